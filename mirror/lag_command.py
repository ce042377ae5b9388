"""``mirror lag``: a live table of replication lag, measured from an mm2.properties file or read
from a running ``mirror serve``.

With ``--config`` every enabled flow is measured directly against its clusters (the same probe the
service's sampler uses); with ``--service`` the service's newest samples are shown, so many
terminals watching cost the clusters nothing. ``--once`` prints one table and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from mirror.config.errors import ConfigError, ConfigErrors
from mirror.config.mm2 import FlowConfig, MirrorMakerConfig
from mirror.kafka import KafkaClientError
from mirror.lag_probe import measure_mm2_flow
from mirror.lag_view import JsonObject, lag_view
from mirror.mm2_file import load_mm2_file
from mirror.signals import stop_on_signals

log = logging.getLogger("mirror.lag")

TOKEN_ENV = "MIRROR_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_CONFIG = 2
_HTTP_TIMEOUT_S = 10.0


class LagSourceError(Exception):
    """The clusters or the service could not be asked; the message says why (never a secret)."""


def add_lag_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lag = commands.add_parser(
        "lag",
        help="show replication lag per flow and topic, live",
        description=(
            "Show each flow's lag: records waiting and the age of the oldest, per topic, with heartbeat "
            "age, checkpoint age and the RPO a failover now would have. --config measures the flows of "
            "an mm2.properties file against their clusters; --service reads a running mirror serve "
            f"(token from ${TOKEN_ENV}). Refreshes every --interval seconds until Ctrl-C, or prints "
            "once with --once."
        ),
    )
    where = lag.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, metavar="FILE", help="mm2.properties: measure its flows")
    where.add_argument("--service", metavar="URL", help="a mirror serve API, e.g. http://127.0.0.1:8083")
    lag.add_argument("--flow", action="append", metavar="NAME", help="only this flow (repeatable)")
    lag.add_argument("--interval", type=float, default=5.0, metavar="SECONDS", help="refresh (default 5)")
    lag.add_argument("--once", action="store_true", help="print one table and exit")
    lag.add_argument("--json", action="store_true", help="with --once: print the samples as JSON")


def run_lag_command(args: argparse.Namespace) -> int:
    if not args.interval > 0:
        print("mirror: --interval must be more than 0 seconds", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        fetch = _config_fetcher(args.config, args.flow) if args.config else _service_fetcher(args)
    except ConfigErrors as exc:
        print(f"mirror: {args.config} is invalid:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except (ConfigError, OSError, LagSourceError) as exc:
        print(f"mirror: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    console = Console()
    if args.once:
        try:
            views = fetch()
        except LagSourceError as exc:
            print(f"mirror: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if args.json:
            print(json.dumps(views, indent=2))
        else:
            console.print(lag_table(views, time.time()))
        return EXIT_OK
    return _watch(console, fetch, args.interval)


def _watch(console: Console, fetch: Callable[[], list[JsonObject]], interval_s: float) -> int:
    stop = stop_on_signals(log)
    with Live(Table(title="sampling..."), console=console, auto_refresh=False) as live:
        while True:
            try:
                live.update(lag_table(fetch(), time.time()), refresh=True)
            except LagSourceError as exc:
                live.update(Table(title=f"[red]{exc}"), refresh=True)
            if stop.wait(interval_s):
                return EXIT_OK


def lag_table(views: Sequence[JsonObject], now_s: float) -> Table:
    table = Table(title=f"replication lag at {time.strftime('%H:%M:%S', time.localtime(now_s))}")
    for column in ("flow", "topic", "records", "oldest waiting", "heartbeat age", "checkpoint age", "RPO"):
        if column in {"flow", "topic"}:
            table.add_column(column, overflow="fold")  # names wrap, never cut to an ellipsis
        else:
            table.add_column(column, justify="right")
    for view in views:
        if view["sampled_at"] is None:
            table.add_row(view["flow"], "(not sampled yet)", "", "", "", "", "")
            continue
        table.add_row(
            view["flow"],
            "(all)",
            f"{view['records']:,}",
            _seconds(view["seconds"]),
            _seconds(view["heartbeat_age_seconds"]),
            _seconds(view["checkpoint_age_seconds"]),
            _seconds(view["rpo_seconds"]),
        )
        for topic in view["topics"]:
            table.add_row("", topic["topic"], f"{topic['records']:,}", _seconds(topic["seconds"]), "", "", "")
    return table


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.1f} s"


# ---- where samples come from ----------------------------------------------------------------


def _config_fetcher(path: Path, only: Sequence[str] | None) -> Callable[[], list[JsonObject]]:
    config = load_mm2_file(path)
    flows = _chosen_flows(config, only)

    def fetch() -> list[JsonObject]:
        try:
            return [lag_view(flow.name, measure_mm2_flow(flow), time.time()) for flow in flows]
        except KafkaClientError as exc:
            raise LagSourceError(str(exc)) from None

    return fetch


def _chosen_flows(config: MirrorMakerConfig, only: Sequence[str] | None) -> list[FlowConfig]:
    enabled = {flow.name: flow for flow in config.enabled_flows()}
    if not only:
        if not enabled:
            raise ConfigError("no flow is enabled (set A->B.enabled = true)")
        return list(enabled.values())
    unknown = [name for name in only if name not in enabled]
    if unknown:
        raise ConfigError(
            f"--flow {unknown[0]!r} is not an enabled flow; enabled: {', '.join(enabled) or 'none'}"
        )
    return [enabled[name] for name in only]


def _service_fetcher(args: argparse.Namespace) -> Callable[[], list[JsonObject]]:
    base = args.service.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise LagSourceError(f"--service must be an http:// or https:// URL, not {args.service!r}")
    token = os.environ.get(TOKEN_ENV) or None
    only: Sequence[str] | None = args.flow

    def fetch() -> list[JsonObject]:
        names = list(only) if only else [flow["name"] for flow in _get(base, "/flows", token)]
        return [_get(base, f"/flows/{urllib.parse.quote(name, safe='')}/lag", token) for name in names]

    return fetch


def _get(base: str, path: str, token: str | None) -> Any:
    request = urllib.request.Request(base + path)  # noqa: S310 - an operator's URL, checked above
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise LagSourceError(f"GET {base}{path} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise LagSourceError(f"the service at {base} does not answer: {exc}") from None
