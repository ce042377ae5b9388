"""S3 connector configs: Connect-style flat maps, every bad key named."""

from __future__ import annotations

import pytest

from mirror.config.backup import (
    BackupSinkConfig,
    RestoreSourceConfig,
    format_end_offsets,
    parse_end_offsets,
    parse_s3_url,
    parse_timestamp_ms,
)
from mirror.config.errors import ConfigError, ConfigErrors
from tests.made_up import secret

SINK = {"bootstrap.servers": "127.0.0.1:9092", "s3.bucket.name": "backups", "topics": "orders.*"}


def keys_of(failure: ConfigErrors) -> set[str | None]:
    return {error.key for error in failure.errors}


def test_sink_defaults() -> None:
    config = BackupSinkConfig.parse(SINK)
    assert (config.format, config.compression, config.mode) == ("jsonl", "zstd", "continuous")
    assert config.topics.accepts("orders-eu") and not config.topics.accepts("payments")
    assert config.consumer["isolation.level"] == "read_committed"
    assert config.group_id == "connect-s3-backup"
    assert config.s3.prefix == "" and config.s3.endpoint is None


def test_sink_reports_every_bad_key_at_once() -> None:
    with pytest.raises(ConfigErrors) as failure:
        BackupSinkConfig.parse(
            {
                "s3.bucket.name": "Not_A_Bucket",
                "format.output.type": "csv",
                "rotate.records": "0",
                "s3.part.size.bytes": "1024",
                "consumer.isolation.level": "read_uncommitted",
                "aws.access.key.id": "someone",
                "rotate.recrods": "5",
                "topics": "(",
            }
        )
    assert keys_of(failure.value) >= {
        "bootstrap.servers",
        "s3.bucket.name",
        "format.output.type",
        "rotate.records",
        "s3.part.size.bytes",
        "consumer.isolation.level",
        "aws.secret.access.key",
        "rotate.recrods",
        "topics",
    }


def test_secrets_are_never_quoted_in_errors() -> None:
    password = secret()
    with pytest.raises(ConfigErrors) as failure:
        BackupSinkConfig.parse({**SINK, "aws.secret.access.key": password})
    assert password not in str(failure.value)
    assert "aws.access.key.id" in str(failure.value)


def test_restore_config_renames_windows_and_groups() -> None:
    config = RestoreSourceConfig.parse(
        {
            "bootstrap.servers": "127.0.0.1:9092",
            "s3.bucket.name": "backups",
            "s3.prefix": "/nightly/",
            "topics.rename": "orders=orders-restored, payments = payments-2",
            "restore.from.time": "2024-01-01T00:00:00Z",
            "restore.until.time": "1704153600000",
        }
    )
    assert config.target_topic("orders") == "orders-restored" and config.target_topic("other") == "other"
    assert config.s3.prefix == "nightly/"
    assert (config.from_ms, config.until_ms) == (1704067200000, 1704153600000)
    assert config.offset_header == "mirror.backup.offset" and config.restore_groups


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"topics.rename": "a=b,c=b"}, "topics.rename"),
        ({"topics.rename": "a"}, "topics.rename"),
        ({"restore.until.time": "yesterday"}, "restore.until.time"),
        ({"restore.from.time": "2000", "restore.until.time": "1000"}, "restore.from.time"),
        ({"offset.header": ""}, "offset.header"),
        ({"corrupt.object.policy": "ignore"}, "corrupt.object.policy"),
    ],
)
def test_restore_refusals_name_the_key(extra: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigErrors) as failure:
        RestoreSourceConfig.parse({"bootstrap.servers": "b:1", "s3.bucket.name": "backups", **extra})
    assert key in keys_of(failure.value)


def test_urls_times_and_end_offsets() -> None:
    assert parse_s3_url("s3://my-bucket/a/b") == ("my-bucket", "a/b/")
    assert parse_s3_url("s3://my-bucket") == ("my-bucket", "")
    with pytest.raises(ConfigError, match="s3://BUCKET/PREFIX"):
        parse_s3_url("https://my-bucket/x", key="--to")
    assert parse_timestamp_ms("1970-01-01T00:00:01+00:00") == 1000
    ends = {("a.b-c", 0): 5, ("x", 12): 0}
    assert parse_end_offsets(format_end_offsets(ends)) == ends
