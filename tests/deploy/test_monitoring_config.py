"""The Prometheus alert rules and the Grafana dashboard under deploy/, checked by a real promtool
(`make promtool` builds it) and against the metrics mirror exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from mirror.metrics import ALL_METRIC_NAMES, METRIC_LABELS, TASK_METRIC_NAMES
from tests.kafka_harness import REPO

PROMTOOL = REPO / ".local" / "bin" / "promtool"
RULES = REPO / "deploy" / "prometheus" / "mirror-alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "mirror-alerts.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "mirror-dashboard.json"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC = re.compile(r"\b(mirror_[a-z_]+)")
SELECTOR = re.compile(r"\{([^}]*)\}")
LABEL_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def promtool(*arguments: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run make promtool"
    return subprocess.run(
        [str(PROMTOOL), *arguments], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    variables = [item for item in dashboard["templating"]["list"] if item["type"] == "query"]
    return exprs + [item["definition"] for item in variables]


def rule_exprs() -> list[str]:
    # The rules file is YAML; its expressions are the single-line `expr:` values.
    return [line.split("expr:", 1)[1].strip() for line in RULES.read_text().splitlines() if "expr:" in line]


def exported_name(name: str) -> str | None:
    if name in ALL_METRIC_NAMES:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in TASK_METRIC_NAMES and not base.endswith("_total"):
            return base
    return None


def problems_in(expr: str) -> list[str]:
    """Metric names mirror does not export, and labels none of the expression's metrics has."""
    names = set(METRIC.findall(expr))
    problems = [f"{name} is not a metric mirror exports" for name in names if exported_name(name) is None]
    known = {label for name in names if (base := exported_name(name)) for label in METRIC_LABELS[base]}
    if any(name.endswith("_bucket") for name in names):
        known.add("le")
    used = {label for selector in SELECTOR.findall(expr) for label in LABEL_MATCHER.findall(selector)}
    used |= {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    problems += [f"label {label} belongs to none of {sorted(names)}" for label in sorted(used - known)]
    return problems


def test_the_alert_rules_are_valid() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    defined_alerts = set(re.findall(r"alert: (\w+)", RULES.read_text()))
    assert tested_alerts == defined_alerts


@pytest.mark.parametrize("expr", rule_exprs() + dashboard_exprs())
def test_every_expression_uses_exported_metrics_and_their_labels(expr: str) -> None:
    assert problems_in(expr) == []


def test_the_name_check_catches_a_wrong_metric_and_label() -> None:
    assert problems_in('sum by (partition) (mirror_replication_lag_records{flow="x"})') == [
        "label partition belongs to none of ['mirror_replication_lag_records']"
    ]
    assert problems_in("rate(mirror_records_total[1m])") == [
        "mirror_records_total is not a metric mirror exports"
    ]


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    # promtool parses PromQL when it checks rules: each query becomes a recording rule.
    queries = [
        expr.replace("$flow", ".*") for expr in dashboard_exprs() if not expr.startswith("label_values")
    ]
    rules = tmp_path / "dashboard-queries.yml"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, query in enumerate(queries):
        lines += [f"      - record: dashboard:query_{index}", f"        expr: {json.dumps(query)}"]
    rules.write_text("\n".join(lines) + "\n")
    checked = promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout
