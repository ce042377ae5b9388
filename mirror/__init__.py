"""mirror: a MirrorMaker 2 compatible Kafka replicator built on librdkafka."""

__version__ = "0.1.0"
