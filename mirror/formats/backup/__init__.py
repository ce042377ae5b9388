"""What a backup in S3 holds: record objects (JSON lines, Avro, Parquet), their keys, and manifests. Pure."""
