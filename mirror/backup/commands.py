"""``mirror backup``, ``mirror backup verify|prune`` and ``mirror restore``: arguments to connector configs.

The commands build the same flat connector configs the REST API takes, so a command line and a
connector created through the API behave alike; ``--client-config FILE`` (Java properties) adds
any key, Kafka client keys (``security.protocol``, ``sasl.*``) and S3 keys (``aws.profile``,
``aws.access.key.id``) alike, and ``--set KEY=VALUE`` one at a time. Heavy imports (boto3,
pyarrow, confluent-kafka) wait until a command runs, so ``mirror --help`` stays quick.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mirror.config.backup import DEFAULT_RESTORE_OFFSETS_TOPIC, parse_s3_url
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.properties import parse_properties
from mirror.signals import stop_on_signals

log = logging.getLogger("mirror.backup")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_CONFIG = 2

_S3_HELP = (
    "S3 credentials, region and endpoint come as boto3 users expect (AWS_ACCESS_KEY_ID, AWS_PROFILE, "
    "AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, shared config files, instance roles) unless set here or in "
    "--client-config (aws.access.key.id, aws.secret.access.key, aws.profile, s3.endpoint, s3.region)."
)


def _add_s3_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3")
    group.add_argument(
        "--s3-endpoint", metavar="URL", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL / AWS)"
    )
    group.add_argument("--s3-region", metavar="REGION", help="region (default: AWS_DEFAULT_REGION / profile)")
    group.add_argument("--aws-profile", metavar="NAME", help="profile of the shared AWS config files")
    group.add_argument(
        "--path-style",
        action="store_true",
        default=None,
        help="path-style bucket addressing (most non-AWS servers)",
    )


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout (no progress bar)"
    )


def _add_kafka_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--bootstrap-servers", metavar="HOST:PORT", required=required, help="Kafka cluster")
    parser.add_argument(
        "--client-config",
        type=Path,
        metavar="FILE",
        help="Java properties added to the connector config (client security, S3 or any connector key)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one connector config key (repeatable)",
    )
    parser.add_argument("--tasks", type=int, default=1, metavar="N", help="tasks (threads), default 1")
    parser.add_argument("--name", help="connector name (progress and consumer group are kept under it)")


def add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="back topics up to S3 (and verify or prune a backup)",
        description=(
            "Back up topics to s3://BUCKET/PREFIX with the S3 sink connector: every record's key, value, "
            "headers, timestamp, partition and offset, committed records only, plus topic configs and "
            "consumer-group offsets. Runs until SIGINT/SIGTERM (then stores what is buffered), or with "
            "--once until the end offsets seen at start are stored. A rerun continues after the last "
            f"stored offset. {_S3_HELP}"
        ),
    )
    _add_kafka_arguments(backup, required=False)
    backup.add_argument(
        "--topics", metavar="REGEX", help="topics to back up (Java regex list, as MM2's topics)"
    )
    backup.add_argument("--topics-exclude", metavar="REGEX", help="topics to leave out")
    backup.add_argument(
        "--groups", metavar="REGEX", help="consumer groups whose offsets are recorded (default all)"
    )
    backup.add_argument("--to", dest="to_url", metavar="s3://BUCKET/PREFIX", help="where the backup goes")
    backup.add_argument(
        "--format", choices=("jsonl", "avro", "parquet"), help="object format (default jsonl)"
    )
    backup.add_argument(
        "--compression", choices=("none", "gzip", "zstd", "snappy"), help="compression (default zstd)"
    )
    backup.add_argument(
        "--once", action="store_true", help="stop when the end offsets seen at start are stored"
    )
    backup.add_argument("--rotate-records", type=int, metavar="N", help="records per object at most")
    backup.add_argument("--rotate-bytes", type=int, metavar="N", help="value bytes per object at most")
    backup.add_argument(
        "--rotate-interval-ms", type=int, metavar="MS", help="oldest buffered record waits at most"
    )
    _add_s3_arguments(backup)
    _add_output_arguments(backup)
    actions = backup.add_subparsers(dest="backup_command", metavar="{verify,prune}")
    verify = actions.add_parser(
        "verify",
        help="check every object of a backup against its manifest",
        description="Download every object the manifests list and check sha256, format, record count and "
        "offsets. Exit 1 naming each corrupt or missing object; orphans are reported, not failures.",
    )
    verify.add_argument("url", metavar="s3://BUCKET/PREFIX")
    verify.add_argument("--topics", metavar="REGEX", help="only these backed-up topics")
    _add_s3_arguments(verify)
    _add_output_arguments(verify)
    prune = actions.add_parser(
        "prune",
        help="delete objects older than the retention",
        description="Delete objects whose newest record is older than --keep-days, manifest first. Refuses "
        "while a backup wrote the prefix in the last 5 minutes (stop it, or --force).",
    )
    prune.add_argument("url", metavar="s3://BUCKET/PREFIX")
    prune.add_argument("--keep-days", type=float, required=True, metavar="N", help="retention in days")
    prune.add_argument("--orphans", action="store_true", help="also delete objects of crashed backups")
    prune.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    prune.add_argument("--force", action="store_true", help="prune even though a backup may be running")
    _add_s3_arguments(prune)
    _add_output_arguments(prune)

    restore = commands.add_parser(
        "restore",
        help="restore topics and consumer groups from an S3 backup",
        description=(
            "Restore topics backed up by `mirror backup` into a Kafka cluster with the S3 source connector: "
            "same partitions, exact keys, values, headers and timestamps, the original offset in the "
            "mirror.backup.offset header; missing topics are created with the backed-up partition count and "
            "configs; then consumer-group offsets are committed, translated to the restored offsets. A rerun "
            f"continues without duplicating. {_S3_HELP}"
        ),
    )
    restore.add_argument(
        "--from", dest="from_url", required=True, metavar="s3://BUCKET/PREFIX", help="the backup"
    )
    _add_kafka_arguments(restore, required=True)
    restore.add_argument("--topics", metavar="REGEX", help="backed-up topics to restore (default all)")
    restore.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="restore topic OLD as NEW (repeatable)",
    )
    restore.add_argument(
        "--from-time", metavar="TIME", help="only records at or after (ISO-8601 or epoch ms)"
    )
    restore.add_argument("--until", metavar="TIME", help="only records at or before (point in time)")
    restore.add_argument("--groups", metavar="REGEX", help="consumer groups to restore (default all)")
    restore.add_argument("--no-groups", action="store_true", help="restore no consumer-group offsets")
    restore.add_argument(
        "--skip-corrupt", action="store_true", help="skip (and name) objects failing their checksum"
    )
    restore.add_argument(
        "--offset-header", metavar="NAME", help="header for the original offset ('' for none)"
    )
    restore.add_argument(
        "--replication-factor", type=int, metavar="N", help="of created topics (default broker's)"
    )
    restore.add_argument(
        "--offsets-topic",
        default=DEFAULT_RESTORE_OFFSETS_TOPIC,
        metavar="TOPIC",
        help=f"where restore progress is kept on the target (default {DEFAULT_RESTORE_OFFSETS_TOPIC})",
    )
    _add_s3_arguments(restore)
    _add_output_arguments(restore)


# ---- configs ------------------------------------------------------------------------------------


def _s3_keys(args: argparse.Namespace, url: str, url_option: str) -> dict[str, str]:
    bucket, prefix = parse_s3_url(url, key=url_option)
    keys = {"s3.bucket.name": bucket, "s3.prefix": prefix}
    if args.s3_endpoint:
        keys["s3.endpoint"] = args.s3_endpoint
    if args.s3_region:
        keys["s3.region"] = args.s3_region
    if args.aws_profile:
        keys["aws.profile"] = args.aws_profile
    if args.path_style:
        keys["s3.path.style.access.enabled"] = "true"
    return keys


def _extra_keys(args: argparse.Namespace) -> dict[str, str]:
    keys: dict[str, str] = {}
    if args.client_config is not None:
        try:
            text = args.client_config.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", source=str(args.client_config)) from exc
        keys.update({entry.key: entry.value for entry in parse_properties(text, str(args.client_config))})
    for item in args.set:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ConfigError(f"{item!r} is not KEY=VALUE", key="--set")
        keys[key.strip()] = value
    return keys


def _default_name(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]
    return f"mirror-{kind}-{re.sub(r'[^A-Za-z0-9._-]+', '-', parts[0])[:80].strip('-')}-{digest}"


def backup_config(args: argparse.Namespace) -> dict[str, str]:
    if not args.to_url:
        raise ConfigError("is required", key="--to")
    if not args.bootstrap_servers:
        raise ConfigError("is required", key="--bootstrap-servers")
    config = {"bootstrap.servers": args.bootstrap_servers, **_extra_keys(args)}
    config.update(_s3_keys(args, args.to_url, "--to"))
    config["name"] = (
        args.name or config.get("name") or _default_name("backup", args.to_url, args.bootstrap_servers)
    )
    optional = {
        "topics": args.topics,
        "topics.exclude": args.topics_exclude,
        "groups": args.groups,
        "format.output.type": args.format,
        "file.compression.type": args.compression,
        "rotate.records": args.rotate_records,
        "rotate.bytes": args.rotate_bytes,
        "rotate.interval.ms": args.rotate_interval_ms,
    }
    config.update({key: str(value) for key, value in optional.items() if value is not None})
    if args.once:
        config["backup.mode"] = "once"
    config["tasks.max"] = str(args.tasks)
    return config


def restore_config(args: argparse.Namespace) -> dict[str, str]:
    config = {"bootstrap.servers": args.bootstrap_servers, **_extra_keys(args)}
    config.update(_s3_keys(args, args.from_url, "--from"))
    optional = {
        "topics": args.topics,
        "groups": args.groups,
        "restore.from.time": args.from_time,
        "restore.until.time": args.until,
        "offset.header": args.offset_header,
        "replication.factor": args.replication_factor,
    }
    config.update({key: str(value) for key, value in optional.items() if value is not None})
    if args.rename:
        config["topics.rename"] = ",".join(args.rename)
    if args.no_groups:
        config["restore.groups.enabled"] = "false"
    if args.skip_corrupt:
        config["corrupt.object.policy"] = "skip"
    config["tasks.max"] = str(args.tasks)
    identity = (
        args.from_url,
        args.bootstrap_servers,
        config.get("topics.rename", ""),
        args.from_time or "",
        args.until or "",
    )
    config["name"] = args.name or config.get("name") or _default_name("restore", *identity)
    return config


# ---- running ------------------------------------------------------------------------------------


def _emit(args: argparse.Namespace, summary: Mapping[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        for line in lines:
            print(line)


def _progress(args: argparse.Namespace, label: str) -> Callable[[int | None], Any]:
    from mirror.backup.progress import ProgressDisplay  # noqa: PLC0415 - keeps `mirror --help` light

    enabled = not args.json and sys.stderr.isatty()
    return lambda total: ProgressDisplay(label, total_records=total, enabled=enabled)


def run_backup_command(args: argparse.Namespace) -> int:
    """``mirror backup`` and its ``verify`` / ``prune`` actions."""
    if args.backup_command == "verify":
        return _verify(args)
    if args.backup_command == "prune":
        return _prune(args)
    return _guarded(lambda: _located_in_client_config(args, lambda: _backup(args)))


def run_restore_command(args: argparse.Namespace) -> int:
    return _guarded(lambda: _located_in_client_config(args, lambda: _restore(args)))


def _located_in_client_config(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """Runs ``run``; errors about keys read from ``--client-config`` name its file and line (a key
    that ``--set`` replaced keeps its bare name)."""
    try:
        return run()
    except ConfigErrors as failure:
        path: Path | None = args.client_config
        if path is None:
            raise
        lines = {entry.key: entry.line for entry in parse_properties(path.read_text(encoding="utf-8"))}
        replaced = {item.partition("=")[0].strip() for item in args.set}
        raise ConfigErrors(
            error.relocated(source=str(path), line=lines[error.key])
            if error.key in lines and error.key not in replaced and error.source is None
            else error
            for error in failure.errors
        ) from None


def _guarded(run: Callable[[], int]) -> int:
    from connectors.s3_source import RestoreTargetError  # noqa: PLC0415
    from mirror.backup.jobs import JobFailedError  # noqa: PLC0415
    from mirror.kafka import KafkaClientError  # noqa: PLC0415
    from mirror.s3 import S3StorageError  # noqa: PLC0415

    # boto3 announces where it found credentials and endpoints at INFO on every client.
    for name in ("botocore", "boto3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)

    try:
        return run()
    except (ConfigError, ConfigErrors) as exc:
        print(f"mirror: configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except (JobFailedError, KafkaClientError, S3StorageError, RestoreTargetError, ValueError) as exc:
        print(f"mirror: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except RecursionError:
        # Manifests and records are decoded with their own errors; this is the backstop that keeps
        # any other too-deep input (a backup is written by whoever can write the bucket) from
        # ending in a traceback.
        print("mirror: input nested too deeply to read", file=sys.stderr)
        return EXIT_FAILURE


def _backup(args: argparse.Namespace) -> int:
    from mirror.backup.jobs import run_backup  # noqa: PLC0415

    config = backup_config(args)
    stop = stop_on_signals(log)
    summary = run_backup(config, stop=stop, progress_factory=_progress(args, "backup"))
    _emit(
        args,
        summary.as_json(),
        [
            f"backed up {summary.records} records ({summary.bytes} bytes stored) of {summary.topics} topics "
            f"in {summary.objects} objects to {summary.url} in {summary.seconds:.1f}s"
        ],
    )
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from mirror.backup.jobs import run_restore  # noqa: PLC0415

    config = restore_config(args)
    stop = stop_on_signals(log)
    summary = run_restore(
        config, offsets_topic=args.offsets_topic, stop=stop, progress_factory=_progress(args, "restore")
    )
    lines = [
        f"restored {summary.records} records from {summary.objects} objects of {summary.url} "
        f"in {summary.seconds:.1f}s: " + ", ".join(f"{old} -> {new}" for old, new in summary.topics.items())
    ]
    lines += [f"skipped corrupt object {name}" for name in summary.skipped_objects]
    lines += [
        f"restored group {group} ({len(offsets)} partitions)"
        for group, offsets in summary.groups_restored.items()
    ]
    lines += [f"did not restore group {group}: {why}" for group, why in summary.groups_skipped.items()]
    _emit(args, summary.as_json(), lines)
    return EXIT_OK


def _store_and_manifests(args: argparse.Namespace, url: str, topics: str | None) -> tuple[Any, Any]:
    from connectors.s3_source import read_manifests  # noqa: PLC0415
    from mirror.config.backup import S3Settings  # noqa: PLC0415
    from mirror.filters import TopicFilter  # noqa: PLC0415
    from mirror.s3 import ObjectStore  # noqa: PLC0415

    keys = _s3_keys(args, url, "url")
    settings = S3Settings(
        bucket=keys["s3.bucket.name"],
        prefix=keys["s3.prefix"],
        endpoint=keys.get("s3.endpoint"),
        region=keys.get("s3.region"),
        profile=keys.get("aws.profile"),
        path_style=True if args.path_style else None,
    )
    store = ObjectStore(settings)
    store.check_bucket()
    accepts = TopicFilter.from_config({"topics": topics}).accepts if topics else (lambda _topic: True)
    return store, read_manifests(store, accepts)


def _verify(args: argparse.Namespace) -> int:
    def run() -> int:
        from mirror.backup.verify import verify_backup  # noqa: PLC0415

        store, manifests = _store_and_manifests(args, args.url, args.topics)
        if not manifests:
            print(f"mirror: no backup (no topics/*/manifest.json) under {args.url}", file=sys.stderr)
            return EXIT_FAILURE
        total = sum(entry.records for manifest in manifests.values() for entry in manifest.objects)
        with _progress(args, "verify")(total) as progress:
            report = verify_backup(store, manifests, on_object=lambda e: progress.advance(e.records, e.size))
        lines = [
            f"checked {report.objects} objects ({report.records} records, {report.bytes} bytes) of "
            f"{report.topics} topics in {report.url}: "
            + ("all intact" if report.ok else f"{len(report.problems)} bad")
        ]
        lines += [
            f"CORRUPT {problem.name} ({problem.topic}): {problem.problem}" for problem in report.problems
        ]
        lines += [f"orphan (not in any manifest) {name}" for name in report.orphans]
        _emit(args, report.as_json(), lines)
        if not report.ok:
            for problem in report.problems:
                print(
                    f"mirror: corrupt object {report.url}{problem.name}: {problem.problem}", file=sys.stderr
                )
            return EXIT_FAILURE
        return EXIT_OK

    return _guarded(run)


def _prune(args: argparse.Namespace) -> int:
    def run() -> int:
        from mirror.backup.prune import BackupBusyError, prune_backup  # noqa: PLC0415

        store, manifests = _store_and_manifests(args, args.url, None)
        try:
            report = prune_backup(
                store,
                manifests,
                keep_days=args.keep_days,
                now_ms=int(time.time() * 1000),
                dry_run=args.dry_run,
                orphans=args.orphans,
                force=args.force,
            )
        except BackupBusyError as exc:
            print(f"mirror: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        verb = "would delete" if report.dry_run else "deleted"
        _emit(
            args,
            report.as_json(),
            [
                f"{verb} {len(report.deleted)} objects ({report.deleted_bytes} bytes) older than "
                f"{args.keep_days} days and {len(report.orphans_deleted)} orphans in {report.url}"
            ],
        )
        return EXIT_OK

    return _guarded(run)
