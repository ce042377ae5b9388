"""The Prometheus alert rules and the Grafana dashboard under deploy/, checked by a real promtool
(`make promtool` builds it) and against the metrics mirror exports."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mirror.lag import ReadinessRules
from mirror.metrics import ALL_METRIC_NAMES, METRIC_LABELS, TASK_METRIC_NAMES
from mirror.runtime.status import State
from mirror.service.plugins import PLUGINS
from tests.kafka_harness import REPO

PROMTOOL = REPO / ".local" / "bin" / "promtool"
RULES = REPO / "deploy" / "prometheus" / "mirror-alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "mirror-alerts.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "mirror-dashboard.json"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC = re.compile(r"\b(mirror_[a-z_]+)")
SELECTOR = re.compile(r"\{([^}]*)\}")
LABEL_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"^label_values\((mirror_[a-z_]+)\s*,\s*([a-zA-Z_]+)\)$")
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_]+)\s*\}\}")
THRESHOLD = re.compile(r">\s*([0-9.]+)$")

LABEL_VALUES_MIRROR_EXPORTS: Mapping[str, frozenset[str]] = {
    "state": frozenset(state.value for state in State),
    # Tasks label their metrics with their connector's Python class name.
    "connector_class": frozenset(plugin.factory.__name__ for plugin in PLUGINS),
}
"""Labels with a closed set of values: an exact matcher on any other value never matches."""

GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$flow": ".*"}
"""What Grafana puts in place of the variables the dashboard's queries use, for promtool to parse."""

ALERTS_OF_READINESS_RULES = {
    "MirrorRpoHigh": ReadinessRules().max_rpo_s,
    "MirrorHeartbeatStale": ReadinessRules().max_heartbeat_age_s,
    "MirrorCheckpointStale": ReadinessRules().max_checkpoint_age_s,
    "MirrorLagSamplerStale": ReadinessRules().max_sample_age_s,
}
"""Alerts that say a flow is not ready to fail over, and the readiness default each one mirrors."""


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str


@dataclass(frozen=True)
class DashboardQuery:
    panel: str
    expr: str
    legend: str


def promtool(*arguments: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run make promtool"
    return subprocess.run(
        [str(PROMTOOL), *arguments], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def alert_rules() -> list[AlertRule]:
    # The file keeps each rule's `- alert:` line before its one-line `expr:`; promtool checks the YAML.
    rules: list[AlertRule] = []
    name: str | None = None
    for number, line in enumerate(RULES.read_text().splitlines(), start=1):
        key, _, value = line.strip().removeprefix("- ").partition(":")
        if key == "alert":
            name = value.strip()
        elif key == "expr":
            expr = value.strip()
            assert name is not None, f"{RULES.name}:{number}: expr before any alert"
            assert expr and expr[0] not in "|>", (
                f"{RULES.name}:{number}: write alert {name}'s expr on one line"
            )
            rules.append(AlertRule(name, expr))
            name = None
    return rules


def panels_of(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from panels_of(panel.get("panels", []))  # the panels of a collapsed row


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_queries() -> list[DashboardQuery]:
    return [
        DashboardQuery(panel["title"], target["expr"], target.get("legendFormat", ""))
        for panel in panels_of(dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def variable_queries() -> list[str]:
    return [item["definition"] for item in dashboard()["templating"]["list"] if item["type"] == "query"]


def exported_name(name: str) -> str | None:
    if name in ALL_METRIC_NAMES:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in TASK_METRIC_NAMES and not base.endswith("_total"):
            return base
    return None


def problems_in(expr: str) -> list[str]:
    """Metric names mirror does not export, labels none of the expression's metrics has, and
    exact matchers on values those labels never take."""
    if variable := LABEL_VALUES.match(expr):
        return problems_in(f"group by ({variable[2]}) ({variable[1]})")
    names = set(METRIC.findall(expr))
    problems = [
        f"{name} is not a metric mirror exports" for name in sorted(names) if exported_name(name) is None
    ]
    known = {label for name in names if (base := exported_name(name)) for label in METRIC_LABELS[base]}
    if any(name.endswith("_bucket") for name in names):
        known.add("le")
    matchers = [matcher for selector in SELECTOR.findall(expr) for matcher in LABEL_MATCHER.findall(selector)]
    used = {label for label, _, _ in matchers}
    used |= {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    problems += [f"label {label} belongs to none of {sorted(names)}" for label in sorted(used - known)]
    for label, operator, value in matchers:
        values = LABEL_VALUES_MIRROR_EXPORTS.get(label)
        if values is not None and operator in ("=", "!=") and value not in values:
            problems.append(f"label {label} is never {value!r} (it is one of {sorted(values)})")
    return problems


def result_labels(expr: str) -> set[str] | None:
    """The labels an aggregated query's series keep (its outermost `by`); None if it has none."""
    groupings = re.findall(r"\bby\s*\(([^)]*)\)", expr)
    if not groupings:
        return None
    return {label.strip() for label in groupings[0].split(",") if label.strip()} - {"le"}


def test_the_alert_rules_are_valid() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout, checked.stdout


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested_alerts == {rule.name for rule in alert_rules()}


def test_the_readiness_alerts_use_the_readiness_defaults() -> None:
    thresholds = {
        rule.name: float(found[1]) for rule in alert_rules() if (found := THRESHOLD.search(rule.expr))
    }
    assert {name: thresholds.get(name) for name in ALERTS_OF_READINESS_RULES} == ALERTS_OF_READINESS_RULES


@pytest.mark.parametrize("expr", [rule.expr for rule in alert_rules()])
def test_every_alert_uses_exported_metrics_and_their_labels(expr: str) -> None:
    assert problems_in(expr) == []


@pytest.mark.parametrize("expr", [query.expr for query in dashboard_queries()] + variable_queries())
def test_every_dashboard_query_uses_exported_metrics_and_their_labels(expr: str) -> None:
    assert problems_in(expr) == []


def test_the_name_check_catches_a_wrong_metric_label_and_value() -> None:
    assert problems_in('sum by (partition) (mirror_replication_lag_records{flow="x"})') == [
        "label partition belongs to none of ['mirror_replication_lag_records']"
    ]
    assert problems_in("rate(mirror_records_total[1m])") == [
        "mirror_records_total is not a metric mirror exports"
    ]
    assert problems_in('mirror_task_status{state="FAILD"}') == [
        "label state is never 'FAILD' (it is one of "
        "['FAILED', 'PAUSED', 'RESTARTING', 'RUNNING', 'STOPPED', 'UNASSIGNED'])"
    ]
    assert problems_in("label_values(mirror_rpo_seconds, topic)") == [
        "label topic belongs to none of ['mirror_rpo_seconds']"
    ]
    assert problems_in("mirror_rpo_seconds * on (topic) mirror_replication_lag_seconds") == []
    assert problems_in("mirror_rpo_seconds * on (group) mirror_replication_lag_seconds") == [
        "label group belongs to none of ['mirror_replication_lag_seconds', 'mirror_rpo_seconds']"
    ]


def test_every_legend_names_a_label_its_query_keeps() -> None:
    missing = [
        f"{query.panel}: {{{{{label}}}}} is not kept by {query.expr}"
        for query in dashboard_queries()
        if (kept := result_labels(query.expr)) is not None
        for label in LEGEND_LABEL.findall(query.legend)
        if label not in kept
    ]
    assert missing == []


def test_the_dashboard_shows_every_metric_and_reads_the_chosen_datasource() -> None:
    shown = {exported_name(name) for query in dashboard_queries() for name in METRIC.findall(query.expr)}
    assert sorted(ALL_METRIC_NAMES - shown) == []
    loaded = dashboard()
    variables = {item["name"]: item for item in loaded["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["flow"]["definition"] == "label_values(mirror_replication_lag_records, flow)"
    elsewhere = [
        panel["title"]
        for panel in panels_of(loaded["panels"])
        for source in [
            panel.get("datasource"),
            *(target.get("datasource") for target in panel.get("targets", [])),
        ]
        if source is not None and source != {"type": "prometheus", "uid": "${datasource}"}
    ]
    assert elsewhere == []
    assert 36 <= loaded["schemaVersion"] <= 41


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    # promtool parses PromQL when it checks rules: each query becomes a recording rule.
    queries = [query.expr for query in dashboard_queries()]
    for variable, value in GRAFANA_VARIABLES.items():
        queries = [query.replace(variable, value) for query in queries]
    assert [query for query in queries if "$" in query] == [], (
        f"add to GRAFANA_VARIABLES: {GRAFANA_VARIABLES}"
    )
    rules = tmp_path / "dashboard-queries.yml"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, query in enumerate(queries):
        lines += [f"      - record: dashboard:query_{index}", f"        expr: {json.dumps(query)}"]
    rules.write_text("\n".join(lines) + "\n")
    checked = promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout, checked.stdout
