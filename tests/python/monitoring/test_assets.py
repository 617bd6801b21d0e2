"""`mlci monitoring-assets`: the alert rules pass promtool's checks and unit tests, the scrape
config comes from the deploy inventory and passes `promtool check config`, and every query of
the dashboard runs on a real Prometheus and names only metrics the real server and mlci export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from services.monitored import Monitored, http, query, wait_for

from conftest import REPO, write
from mlci import config
from mlci.monitoring import assets

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
HERE = Path(__file__).parent
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def test_bundled_rules_are_the_defaults_and_pass_promtool() -> None:
    bundled = assets.RESOURCES / assets.RULES
    assert bundled.read_text() == assets.rules_text(config.MonitoringConfig().slo), "run `mlci monitoring-assets`"
    checked = promtool("check", "rules", str(bundled))
    assert checked.returncode == 0 and "SUCCESS: 6 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(HERE / "alerts_test.yml"))
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_assets_from_the_inventory_pass_promtool(project: Path, mlci: object) -> None:
    inventory = REPO / "examples" / "churn" / "deploy" / "production.yml"
    shutil.copy(inventory, project / "production.yml")
    write(
        project / ".mlci.yml",
        """\
        version: 1
        model: {name: churn, task: classification}
        deploy:
          - {name: production, type: ansible, environment: production, inventory: production.yml}
          - {name: k8s-production, type: kubernetes, environment: production, namespace: ml, service: churn-k8s}
        monitoring:
          pushgateway_url: http://127.0.0.1:9091
          slo: {max_error_rate: 0.05, max_p99_ms: 250, window_minutes: 5}
        """,
    )
    done = mlci("monitoring-assets", "--out", "out")  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    scrape = yaml.safe_load((project / "out" / assets.SCRAPE).read_text())
    servers, gateway = scrape["scrape_configs"]
    assert servers["static_configs"] == [
        {"targets": ["127.0.0.1:8211", "127.0.0.1:8212"],
         "labels": {"model": "churn", "target": "production", "environment": "production", "host": "production-app1"}},
        {"targets": ["127.0.0.1:8221", "127.0.0.1:8222"],
         "labels": {"model": "churn", "target": "production", "environment": "production", "host": "production-app2"}},
    ]  # fmt: skip
    # The kubernetes target's pods, for the cluster's Prometheus: found through the API server,
    # kept by mlci's own labels. (Debian's Prometheus is built without Kubernetes discovery, so
    # promtool here cannot check this file; the job's shape is asserted instead.)
    (pods,) = yaml.safe_load((project / "out" / assets.SCRAPE_KUBERNETES).read_text())["scrape_configs"]
    assert pods["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["ml"]}}]
    keep = {r["source_labels"][0]: r["regex"] for r in pods["relabel_configs"] if r.get("action") == "keep"}
    assert keep == {"__meta_kubernetes_pod_label_app_kubernetes_io_name": "churn-k8s",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "mlci",
                    "__meta_kubernetes_pod_container_port_number": "8080"}  # fmt: skip
    fixed = {r["target_label"]: r.get("replacement") for r in pods["relabel_configs"] if "target_label" in r}
    assert fixed == {"host": None, "model": "churn", "target": "k8s-production", "environment": "production"}
    assert gateway == {"job_name": "mlci-pushgateway", "honor_labels": True, "scheme": "http",
                       "static_configs": [{"targets": ["127.0.0.1:9091"]}]}  # fmt: skip
    rules = (project / "out" / assets.RULES).read_text()
    assert "> 0.05) and" in rules and "* 1000 > 250" in rules and "[5m]" in rules
    full = {**scrape, "rule_files": [assets.RULES]}
    (project / "out" / "prometheus.yml").write_text(yaml.safe_dump(full))
    checked = promtool("check", "config", str(project / "out" / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads((project / "out" / assets.DASHBOARD).read_text())["uid"] == "mlci-models"


def test_missing_inventory_is_bad_input(project: Path, mlci: object) -> None:
    write(project / ".mlci.yml", """\
        version: 1
        model: {name: churn, task: classification}
        deploy: [{name: prod, type: ansible, environment: production, inventory: nope.yml}]
        """)  # fmt: skip
    done = mlci("monitoring-assets")  # type: ignore[operator]
    assert done.returncode == 2 and "deploy target prod: inventory nope.yml not found" in done.stderr


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads: no strings, label matchers, ranges, grouping
    clauses, functions or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end() :].lstrip()
        if not rest.startswith("(") and match.group() not in KEYWORDS:
            names.add(match.group())
    return names


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y{z}"}[5m]))) / on (m) b_total and c'
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_every_dashboard_query_runs_and_names_exported_metrics(monitored: Monitored, mlci: object) -> None:
    from mlci.monitoring import pipeline

    # Real traffic (a good request, a bad one), a real drift push and a real step push.
    body = json.dumps({"dataframe_split": {"columns": ["x", "n", "color", "extra"], "data": [[0.5, 1, "red", 0.1]]}})
    assert http(monitored.server + "/invocations", body.encode())[0] == 200
    assert http(monitored.server + "/invocations", b"{}")[0] == 400
    pipeline.push(monitored.pushgateway, "train", "demo", "passed", 1.5)
    done = mlci("monitor", "--config", str(_monitor_config(monitored)))  # type: ignore[operator]
    assert done.returncode in (0, 1), done.stderr
    wait_for(lambda: query(monitored.prometheus, 'mlci_monitor_breach{model="demo"}'), 20, "monitor gauges")
    wait_for(lambda: query(monitored.prometheus, 'mlci_step_duration_seconds{model="demo"}'), 20, "step gauges")
    exported = set(json.loads(http(monitored.prometheus + "/api/v1/label/__name__/values")[1])["data"])
    dashboard = json.loads((assets.RESOURCES / assets.DASHBOARD).read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((assets.RESOURCES / assets.RULES).read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) > 20
    for expr in exprs:
        names = metric_names(expr)
        assert names and names <= exported, f"{expr}: {sorted(names - exported)} not exported"
        concrete = expr.replace("$__rate_interval", "1m").replace("$model", "demo").replace("$target", ".*")
        query(monitored.prometheus, concrete)  # asserts Prometheus parsed and ran it


def _monitor_config(monitored: Monitored) -> Path:
    """A monitor over the live server: its metrics and its captured inputs against a reference."""
    from services.model_store import frame

    from mlci.drift import reference

    rows = [[i * 0.1, i % 9, ["red", "green", "blue"][i % 3], (i % 4) * 0.5] for i in range(200)]
    reference.save(reference.compute(frame(rows)), Path("ref.json").resolve())
    path = Path("monitor.yml").resolve()
    path.write_text(
        "version: 1\nmodel: {name: demo, task: classification}\n"
        f"monitoring: {{prometheus_url: '{monitored.prometheus}', pushgateway_url: '{monitored.pushgateway}', "
        f"slo: {{min_requests: 1}}, drift: {{reference: ref.json, current: '{monitored.capture}'}}}}\n"
    )
    return path
