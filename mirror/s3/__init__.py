"""The one place that talks to S3 (through boto3); everything above sees :class:`ObjectStore`."""

from mirror.s3.store import ObjectStore, S3StorageError, make_client

__all__ = ["ObjectStore", "S3StorageError", "make_client"]
