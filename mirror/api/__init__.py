"""The REST API of ``mirror serve``: Kafka Connect's endpoints plus clusters, flows, schedules
and the audit log, all reading and writing the store (``mirror.store``), never running connectors."""
