"""Which Kafka errors a caller may retry, and the one loop that retries them."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from mirror.kafka.clients import KafkaClientError, failure_from, retrying


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


def flaky(*outcomes: BaseException | str) -> tuple[list[float], Callable[[float], str]]:
    """An attempt that raises or returns each outcome in turn, noting the seconds it was given."""
    given: list[float] = []
    pending = list(outcomes)

    def attempt(seconds_left: float) -> str:
        given.append(seconds_left)
        outcome = pending.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return given, attempt


def test_retrying_rides_out_settling_coordinators_and_leaders() -> None:
    given, attempt = flaky(
        KafkaException(KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS)),
        failure_from(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION), "already mapped"),
        "done",
    )
    assert retrying(attempt, "ctx", timeout_s=10, pause_s=0.01) == "done"
    assert len(given) == 3
    assert 0 < given[2] <= given[1] <= given[0] <= 10


def test_retrying_raises_what_a_retry_cannot_fix_at_once_named_by_its_context() -> None:
    given, attempt = flaky(KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), "never")
    with pytest.raises(KafkaClientError, match=r"^reading t: TOPIC_AUTHORIZATION_FAILED \(error\)"):
        retrying(attempt, "reading t", timeout_s=10, pause_s=0.01)
    assert len(given) == 1


def test_retrying_gives_up_at_the_deadline() -> None:
    settling = KafkaException(KafkaError(KafkaError.NOT_COORDINATOR))
    given, attempt = flaky(*[settling] * 1000)
    started = time.monotonic()
    with pytest.raises(KafkaClientError, match="NOT_COORDINATOR"):
        retrying(attempt, "ctx", timeout_s=0.3, pause_s=0.05)
    assert 0.3 <= time.monotonic() - started < 2
    assert 2 <= len(given) < 1000
