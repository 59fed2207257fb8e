"""`deploy/prometheus-alerts.yml`: valid YAML, every rule complete, and every metric its
expressions use is one that leadq exposes. With `promtool` on the PATH (Debian package
`prometheus`), also promtool's own check and the rules' unit tests."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from leadq.observability.metrics import metric_names
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus-alerts.yml"
METRIC = re.compile(r"\b(leadq_[a-z_]+|process_[a-z_]+)\b")


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_rules_are_complete_and_use_only_exposed_metrics() -> None:
    exposed = metric_names()
    names = set()
    for rule in rules():
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]
        used = set(METRIC.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= exposed, (rule["alert"], used - exposed)
        names |= used
    alerts = [rule["alert"] for rule in rules()]
    assert len(alerts) == len(set(alerts))
    # The four the issue asks for: error rate, p95 latency, an open breaker, spend.
    assert "leadq_provider_calls_total" in names
    assert "leadq_lead_failures_total" in names
    assert "leadq_lead_seconds_bucket" in names
    assert "leadq_breaker_state" in names
    assert "leadq_cost_usd_total" in names
    assert any("histogram_quantile(0.95" in r["expr"] for r in rules())


def test_an_unknown_metric_would_be_caught() -> None:
    assert "leadq_leads_total" in metric_names()
    assert "leadq_no_such_metric_total" not in metric_names()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
@pytest.mark.parametrize(
    "args", [["check", "rules", RULES.name], ["test", "rules", "prometheus-alerts.test.yml"]]
)
def test_promtool_accepts_and_unit_tests_the_rules(args: list[str]) -> None:
    proc = subprocess.run(
        ["promtool", *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
