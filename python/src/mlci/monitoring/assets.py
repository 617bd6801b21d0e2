"""`mlci monitoring-assets`: what Prometheus and Grafana load, written to a folder.

- `prometheus-scrape.yml`: scrape jobs for every slot port of every model server in the deploy
  targets' Ansible inventories (read with `ansible-inventory`, so INI, YAML and group vars all
  count), each series labelled `model`, `target`, `environment` and `host`, plus the Pushgateway.
- `mlci-alerts.yml`: alert rules with the thresholds of `monitoring.slo`; the bundled
  `resources/io/mlci/monitoring/mlci-alerts.yml` is this file for the default config.
- `mlci-dashboard.json`: the Grafana dashboard (traffic, model, drift and pipeline rows).
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from mlci import log
from mlci.deploy import inventory as ansible_inventory
from mlci.errors import InputError

RESOURCES = Path(__file__).parent / "resources"
DASHBOARD, RULES, SCRAPE = "mlci-dashboard.json", "mlci-alerts.yml", "prometheus-scrape.yml"
SCRAPE_KUBERNETES = "prometheus-scrape-kubernetes.yml"  # for the Prometheus inside the cluster
SERVERS_JOB = "mlci-models"
PUSHGATEWAY_JOB = "mlci-pushgateway"


def server_targets(loaded: Any) -> list[dict[str, Any]]:
    """Prometheus static_configs: one per model-server host of every ansible deploy target."""
    cfg = loaded.config
    groups: list[dict[str, Any]] = []
    for target in cfg.deploy:
        if target.type != "ansible":
            continue
        if not target.inventory:
            raise InputError(f"deploy target {target.name}: no inventory, so no hosts to scrape")
        inventory = loaded.project_dir / target.inventory
        if not inventory.exists():
            raise InputError(f"deploy target {target.name}: inventory {target.inventory} not found")
        data = ansible_inventory.listing(inventory)
        hostvars = data.get("_meta", {}).get("hostvars", {})
        for host in ansible_inventory.group_hosts(data, ansible_inventory.SERVER_GROUP):
            hv = hostvars.get(host, {})
            slots = hv.get("mlci_server_slots") or {"blue": 8081, "green": 8082}  # the role's default
            address = hv.get("ansible_host", host)
            groups.append({
                "targets": [f"{address}:{port}" for port in sorted(slots.values())],
                "labels": {"model": cfg.model.name, "target": target.name, "environment": target.environment,
                           "host": host},
            })  # fmt: skip
    return groups


def kubernetes_job(model: str, target: Any) -> dict[str, Any]:
    """A Prometheus job for a kubernetes target's pods, found through the API server (Prometheus
    running in the cluster): only the pods mlci manages for this service, with the same labels
    as the on-prem hosts (model, target, environment, host = the pod's name)."""
    from mlci.deploy import manifests

    app = target.service or model
    label = "__meta_kubernetes_pod_label_"

    def meta(name: str) -> str:
        return label + "".join(c if c.isalnum() else "_" for c in name)

    return {
        "job_name": f"{SERVERS_JOB}-{target.name}",
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [target.namespace or "default"]}}],
        "relabel_configs": [
            {"source_labels": [meta(manifests.NAME)], "regex": app, "action": "keep"},
            {"source_labels": [meta("app.kubernetes.io/managed-by")], "regex": "mlci", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": str(manifests.PORT),
             "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "host"},
            {"target_label": "model", "replacement": model},
            {"target_label": "target", "replacement": target.name},
            {"target_label": "environment", "replacement": target.environment},
        ],
    }  # fmt: skip


def scrape_config(loaded: Any) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = [
        {"job_name": SERVERS_JOB, "metrics_path": "/metrics", "static_configs": server_targets(loaded)}
    ]
    gateway = loaded.config.monitoring.pushgateway_url
    if gateway:
        address = urllib.parse.urlsplit(gateway)
        jobs.append({
            "job_name": PUSHGATEWAY_JOB,
            "honor_labels": True,  # keep the pushed model/step labels, as the Pushgateway's docs require
            "scheme": address.scheme or "http",
            "static_configs": [{"targets": [address.netloc]}],
        })  # fmt: skip
    return {"scrape_configs": jobs}


def rules(slo: Any) -> dict[str, Any]:
    """The alert rules, with the SLO thresholds filled in."""
    w = f"{slo.window_minutes}m"
    sel = f'job="{SERVERS_JOB}",path="/invocations"'
    by = "sum by (model, target)"
    requests = f"{by} (increase(mlci_http_requests_total{{{sel}}}[{w}]))"
    errors = f'{by} (rate(mlci_http_requests_total{{{sel},status=~"5.."}}[{w}]))'
    p99 = f"histogram_quantile(0.99, sum by (model, target, le) (rate(mlci_http_request_duration_seconds_bucket{{{sel}}}[{w}])))"  # noqa: E501

    def alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": duration,
            "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description},
        }

    serving = [
        alert("MlciModelServerDown", f'max by (model, target, host) (up{{job="{SERVERS_JOB}"}}) == 0', "2m", "critical",
              "{{ $labels.model }} on {{ $labels.host }} ({{ $labels.target }}) is down",
              "No slot of this host answered Prometheus' scrape for 2 minutes."),
        alert("MlciHighErrorRate",
              f"({errors} / {by} (rate(mlci_http_requests_total{{{sel}}}[{w}])) > {slo.max_error_rate:g}) "
              f"and {requests} >= {slo.min_requests}",
              "2m", "critical", "{{ $labels.model }} ({{ $labels.target }}): {{ $value | humanizePercentage }} 5xx",
              f"More than {slo.max_error_rate:.1%} of /invocations answers were 5xx over {w}."),
        alert("MlciHighLatencyP99", f"{p99} * 1000 > {slo.max_p99_ms:g}", "5m", "warning",
              "{{ $labels.model }} ({{ $labels.target }}): p99 {{ $value | humanize }} ms",
              f"The p99 latency of /invocations was above {slo.max_p99_ms:g} ms over {w}."),
        alert("MlciNoTraffic", f"{requests} == 0", w, "warning",
              "{{ $labels.model }} ({{ $labels.target }}) gets no requests",
              f"No /invocations request for {w} while the servers are scraped."),
    ]  # fmt: skip
    feedback = [
        alert("MlciDatasetDrift", "mlci_dataset_drift == 1", "0m", "warning",
              "{{ $labels.model }}: the captured inputs drifted from the training data",
              "The last drift check found dataset drift; `mlci monitor` triggers retraining when configured."),
        alert("MlciPipelineStepError", 'max by (model, step) (mlci_step_duration_seconds{status="error"}) >= 0', "0m",
              "warning", "{{ $labels.model }}: the last mlci {{ $labels.step }} ended in an error",
              "An infrastructure error (exit 3) in a pipeline step; see that build's log."),
    ]  # fmt: skip
    return {"groups": [{"name": "mlci-serving", "rules": serving}, {"name": "mlci-feedback", "rules": feedback}]}


def rules_text(slo: Any) -> str:
    header = "# mlci alert rules; generated by `mlci monitoring-assets` (thresholds: monitoring.slo).\n"
    return header + yaml.safe_dump(rules(slo), sort_keys=False, width=200)


def write(loaded: Any, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    scrape = out / SCRAPE
    scrape.write_text(yaml.safe_dump(scrape_config(loaded), sort_keys=False), encoding="utf-8")
    written = [scrape]
    cfg = loaded.config
    pods = [kubernetes_job(cfg.model.name, t) for t in cfg.deploy if t.type == "kubernetes"]
    if pods:
        # Kubernetes targets are scraped by a Prometheus in their cluster, a file of their own.
        written.append(out / SCRAPE_KUBERNETES)
        written[-1].write_text(yaml.safe_dump({"scrape_configs": pods}, sort_keys=False), encoding="utf-8")
    alerts = out / RULES
    alerts.write_text(rules_text(loaded.config.monitoring.slo), encoding="utf-8")
    dashboard = out / DASHBOARD
    shutil.copyfile(RESOURCES / DASHBOARD, dashboard)
    return [*written, alerts, dashboard]


def main(config_file: str, out: str) -> int:
    from mlci import config

    written = write(config.load(config_file), Path(out))
    for path in written:
        log.info(f"wrote {path}")
    return 0
