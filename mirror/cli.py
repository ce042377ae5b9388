"""The ``mirror`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mirror import __version__
from mirror.backup.commands import add_backup_commands, run_backup_command, run_restore_command
from mirror.config.errors import ConfigError, ConfigErrors
from mirror.lag_command import add_lag_command, run_lag_command
from mirror.logs import configure_logging
from mirror.mm2_file import load_mm2_file
from mirror.signals import stop_on_signals

if TYPE_CHECKING:
    from mirror.service.serve import ServeOptions

log = logging.getLogger("mirror.cli")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirror",
        description="Replicate Apache Kafka clusters (MirrorMaker 2 compatible), back up and restore.",
    )
    parser.add_argument("--version", action="version", version=f"mirror {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="log line format")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run every enabled flow of an mm2.properties file until interrupted",
        description=(
            "Run every enabled flow (A->B.enabled=true) of a MirrorMaker 2 properties file, as "
            "connect-mirror-maker.sh does, until SIGINT or SIGTERM; then deliver what is in flight, "
            "record progress on the target clusters and exit 0. Exit code 2 means the file was "
            "refused before anything connected."
        ),
    )
    run.add_argument("config", type=Path, help="mm2.properties file")
    run.add_argument(
        "--clusters",
        nargs="+",
        metavar="ALIAS",
        help="run only the flows whose target is one of these clusters (default: all)",
    )
    run.add_argument(
        "--metrics-bind",
        metavar="HOST:PORT",
        help="serve Prometheus metrics (task metrics and the flows' lag) at http://HOST:PORT/metrics",
    )
    run.add_argument(
        "--lag-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --metrics-bind: seconds between lag samples of each flow (default 10)",
    )
    _add_runbook_commands(commands)
    add_backup_commands(commands)
    add_lag_command(commands)
    _add_service_commands(commands)
    return parser


DEFAULT_DATABASE_URL = "sqlite:///mirror.db"


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get("MIRROR_DATABASE_URL", DEFAULT_DATABASE_URL),
        metavar="URL",
        help="control-plane database: sqlite:///path or postgresql+psycopg://... "
        "(default: $MIRROR_DATABASE_URL, else sqlite:///mirror.db in the current directory)",
    )


def _add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the REST API, the connector runtime and the scheduler until interrupted",
        description=(
            "Serve the Kafka-Connect-compatible REST API (gunicorn), run the connectors assigned to this "
            "worker and, while this process leads, the schedules. Several processes on one PostgreSQL "
            "share the work. Without API tokens it listens on loopback addresses only (exit 2 otherwise). "
            "SIGINT/SIGTERM stop everything cleanly and exit 0."
        ),
    )
    _database_option(serve)
    serve.add_argument("--bind", default="127.0.0.1:8083", metavar="HOST:PORT", help="default 127.0.0.1:8083")
    serve.add_argument("--workers", type=int, default=2, metavar="N", help="API server processes (default 2)")
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    serve.add_argument("--worker-id", metavar="ID", help="this worker's id (default HOSTNAME:PORT)")
    serve.add_argument(
        "--lag-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between lag samples of every flow (default 10; 0 samples none)",
    )

    token = commands.add_parser("token", help="create, list or revoke REST API tokens")
    actions = token.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it (shown only once)")
    create.add_argument("--role", choices=("admin", "read"), required=True)
    create.add_argument("--name", help="a name to recognise it by (default ROLE-<random>)")
    _database_option(create)
    _database_option(actions.add_parser("list", help="list tokens (never their secret)"))
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", help="the token's id, as `mirror token list` shows it")
    _database_option(revoke)


_RUNBOOK_NOTE = (
    "A flow that `mirror serve` runs is stopped through its REST API first when --service names it "
    "(failover; the token comes from $MIRROR_API_TOKEN). mirror cannot stop a `mirror run` process: "
    "pre-flight watches the FROM->TO flow for about two seconds and refuses (exit 4) while its "
    "progress or heartbeats still move; stop that flow first, or pass --force knowing that records "
    "replicated later may be read again. Groups with active "
    "members on the destination are skipped. Offsets only move forward, so running it twice is "
    "harmless. Exit codes: 0 done (or already done), 2 bad configuration, 3 partial (some groups "
    "skipped), 4 refused (nothing changed), 1 a cluster failed mid-way."
)


def _add_runbook_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helps = {
        "failover": (
            "move consumer groups from cluster FROM to its replica TO (exact offsets, RPO report)",
            "Commit on TO, for each selected group of FROM, the exact offset of its next unprocessed "
            "record (from the FROM->TO flow's offset syncs, or the latest checkpoints on TO when FROM "
            "is down), and print per partition the offsets on both sides and the records FROM holds "
            "that TO lacks (RPO in records and seconds).",
        ),
        "failback": (
            "bring groups that consume FROM's remote topics home to cluster TO",
            "For groups on FROM consuming TO's remote topics (e.g. TO.orders), commit on TO's original "
            "topics the upstream offset of the next record they have not processed, using the "
            "TO->FROM flow's offset syncs. Groups consuming FROM's own topics move to TO's copies "
            "(FROM.payments) as in a failover, through the FROM->TO flow when the file enables one; "
            "it should have caught up. TO must answer.",
        ),
    }
    for name, (summary, description) in helps.items():
        sub = commands.add_parser(name, help=summary, description=f"{description} {_RUNBOOK_NOTE}")
        sub.add_argument("--config", type=Path, required=True, help="mm2.properties file")
        sub.add_argument("--from", dest="from_cluster", required=True, metavar="ALIAS", help="cluster left")
        sub.add_argument("--to", dest="to_cluster", required=True, metavar="ALIAS", help="cluster joined")
        sub.add_argument(
            "--groups", metavar="REGEX", help="only groups whose whole name matches (and the flow's filter)"
        )
        sub.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
        sub.add_argument("--json", action="store_true", help="print the plan as JSON")
        sub.add_argument("--force", action="store_true", help="proceed while the flow still replicates")
        if name == "failover":
            sub.add_argument(
                "--service",
                metavar="URL",
                help="the `mirror serve` REST API running the FROM->TO flow: stop it there first",
            )
            sub.add_argument(
                "--flow", metavar="NAME", help="the flow's name in that service (default FROM-TO)"
            )


def run(args: argparse.Namespace) -> int:
    # Imported here so `mirror --help` stays fast and needs no Kafka client.
    from mirror.run_metrics import RunMetrics  # noqa: PLC0415
    from mirror.service.serve import parse_bind  # noqa: PLC0415
    from mirror.standalone import selected_flows, start_flows, stop_flows  # noqa: PLC0415

    try:
        if not args.lag_interval > 0:
            raise ValueError("--lag-interval must be more than 0 seconds")
        bind = parse_bind(args.metrics_bind) if args.metrics_bind else None
        config = load_mm2_file(args.config)
        flows = selected_flows(config, args.clusters)
    except (ConfigError, ConfigErrors, ValueError) as exc:
        print(f"mirror: configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    for warning in config.warnings:
        log.warning(warning)
    if not flows:
        print("mirror: no enabled flow to run (set A->B.enabled = true)", file=sys.stderr)
        return EXIT_BAD_CONFIG

    stop = stop_on_signals(log)
    metrics = None if bind is None else RunMetrics(flows, bind[0], bind[1], args.lag_interval)
    if metrics is not None:
        metrics.start()
    running = start_flows(flows)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        stop_flows(running)
        if metrics is not None:
            metrics.stop()
    return EXIT_OK


def runbook(args: argparse.Namespace) -> int:
    # Imported here so `mirror --help` stays fast and needs no Kafka client.
    from mirror.runbook.runner import run_runbook  # noqa: PLC0415

    try:
        config = load_mm2_file(args.config)
    except (ConfigError, ConfigErrors) as exc:
        print(f"mirror: configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    from mirror.runbook.service_flow import TOKEN_ENV, ServiceFlow  # noqa: PLC0415

    service_url = getattr(args, "service", None)
    service = None
    if service_url:
        flow_name = args.flow or f"{args.from_cluster}-{args.to_cluster}"
        service = ServiceFlow(service_url, flow_name, os.environ.get(TOKEN_ENV) or None)
    return run_runbook(
        config,
        args.command,
        args.from_cluster,
        args.to_cluster,
        groups=args.groups,
        dry_run=args.dry_run,
        as_json=args.json,
        force=args.force,
        service=service,
    )


def service(args: argparse.Namespace) -> int:
    # Imported here so `mirror --help` stays fast and needs no database driver.
    from mirror.service import token_commands  # noqa: PLC0415
    from mirror.service.serve import serve  # noqa: PLC0415

    if args.command == "token":
        if args.subcommand == "create":
            return token_commands.create_token(args.db, args.role, args.name)
        if args.subcommand == "list":
            return token_commands.list_tokens(args.db)
        return token_commands.revoke_token(args.db, args.id)
    try:
        options = _serve_options(args)
    except ValueError as exc:
        print(f"mirror: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    return serve(options)


def _serve_options(args: argparse.Namespace) -> ServeOptions:
    """Raises ValueError naming the option at fault."""
    from mirror.service.serve import ServeOptions, parse_bind  # noqa: PLC0415

    host, port = parse_bind(args.bind)
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if not args.lag_interval >= 0:
        raise ValueError("--lag-interval must be 0 or more seconds")
    return ServeOptions(
        args.db,
        host,
        port,
        args.workers,
        args.tls_cert,
        args.tls_key,
        args.worker_id,
        lag_interval_s=args.lag_interval or None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": run,
        "failover": runbook,
        "failback": runbook,
        "serve": service,
        "token": service,
        "backup": run_backup_command,
        "restore": run_restore_command,
        "lag": run_lag_command,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
