"""Which Kafka errors a caller may retry: the protocol's answer, not only librdkafka's flag."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from mirror.kafka.clients import failure_from


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    ],
)
def test_settling_leadership_and_coordinators_are_retriable(code: int) -> None:
    error = KafkaError(code)
    assert not error.retriable()  # librdkafka leaves them unflagged here...
    failure = failure_from(error, "ctx")
    assert (failure.retriable, failure.fatal, failure.code) == (True, False, error.name())  # ...we do not
    assert failure_from(KafkaException(error), "ctx").retriable


@pytest.mark.parametrize(
    "code", [KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.INVALID_CONFIG, KafkaError.OFFSET_OUT_OF_RANGE]
)
def test_errors_a_retry_cannot_fix_are_not(code: int) -> None:
    failure = failure_from(KafkaError(code), "committing t-0")
    assert not failure.retriable
    assert str(failure).startswith(f"committing t-0: {KafkaError(code).name()} (error): ")


def test_anything_else_is_named_by_its_type() -> None:
    failure = failure_from(ValueError("bad"), "ctx")
    assert (failure.code, failure.reason, failure.retriable, failure.fatal) == (
        "ValueError",
        "bad",
        False,
        False,
    )
