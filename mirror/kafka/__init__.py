"""The one place that talks to confluent-kafka.

Everything above this package sees typed results and :class:`KafkaClientError`, never a raw
``KafkaException``; connectors still receive ``confluent_kafka.Message`` batches untouched,
because wrapping each record would put a Python object of ours on the hot path.
"""

from mirror.kafka.admin import (
    ClusterAdmin,
    GroupOffset,
    TopicSpec,
)
from mirror.kafka.clients import (
    KafkaClientError,
    failure_from,
    first_records_at,
    make_admin,
    make_consumer,
    make_producer,
    watermarks,
)

__all__ = [
    "ClusterAdmin",
    "GroupOffset",
    "KafkaClientError",
    "TopicSpec",
    "failure_from",
    "first_records_at",
    "make_admin",
    "make_consumer",
    "make_producer",
    "watermarks",
]
