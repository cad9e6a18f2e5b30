"""The monitoring files agree with what the run exports: dashboard queries, scrape configs, README table."""

import json
import re
from pathlib import Path

import pytest
import yaml

from vtrax.deploy.monitoring.ray_metrics import GAUGES, LOSS_GAUGE

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "vtrax.json"
EXPORTED = {f"ray_{gauge.name}" for gauge in GAUGES} | {f"ray_{LOSS_GAUGE.name}"}
METRICS_PORT = 8080  # `--metrics-export-port` in the cluster files and the README's local command
# Panels the issue asks for, by a word of their title.
REQUIRED_PANELS = ("frames/s", "updates/s", "return", "policy lag", "queue size", "insert / sample",
                   "wait vs compute", "loss", "gradient norm", "restarts")


def dashboard_queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of the dashboard's panels and variables."""
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    return queries


def queried_metrics(dashboard: dict) -> set[str]:
    return {name for query in dashboard_queries(dashboard) for name in re.findall(r"\bray_vtrax_\w+", query)}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text())


def test_dashboard_has_the_required_panels(dashboard):
    titles = [panel["title"].lower() for panel in dashboard["panels"]]
    for word in REQUIRED_PANELS:
        assert any(word in title for title in titles), f"no panel about {word!r} in {titles}"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_dashboard_queries_only_exported_metrics_and_all_of_them(dashboard):
    queried = queried_metrics(dashboard)
    assert queried <= EXPORTED, f"the dashboard queries metrics the run does not export: {queried - EXPORTED}"
    assert queried == EXPORTED, f"exported but on no panel: {EXPORTED - queried}"
    for query in dashboard_queries(dashboard):
        assert query.count("(") == query.count(")") and query.count("{") == query.count("}"), query


def test_every_panel_reads_the_datasource_variable(dashboard):
    names = [variable["name"] for variable in dashboard["templating"]["list"]]
    assert "datasource" in names and "session" in names
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all('SessionName=~"$session"' in target["expr"] for target in panel["targets"]), panel["title"]


def test_loss_panel_splits_by_term(dashboard):
    loss = next(panel for panel in dashboard["panels"] if panel["title"].lower().startswith("loss"))
    assert loss["targets"][0]["legendFormat"] == "{{term}}"


def _scrape_configs(name):
    config = yaml.safe_load((MONITORING / "prometheus" / name).read_text())
    assert config["global"]["scrape_interval"]
    return config["scrape_configs"]


def test_local_scrape_config_targets_the_readme_port():
    (job,) = _scrape_configs("local.yml")
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{METRICS_PORT}"]
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert f"vtrax train --metrics-export-port {METRICS_PORT}" in readme


def test_aws_scrape_config_finds_the_nodes_of_cluster_yaml():
    cluster = yaml.safe_load((ROOT / "deploy" / "cluster.yaml").read_text())
    (job,) = _scrape_configs("aws.yml")
    (discovery,) = job["ec2_sd_configs"]
    assert discovery["region"] == cluster["provider"]["region"]
    assert discovery["port"] == METRICS_PORT
    tag = next(f for f in discovery["filters"] if f["name"] == "tag:ray-cluster-name")
    assert tag["values"] == [cluster["cluster_name"]]


def test_onprem_scrape_config_lists_the_machines_of_cluster_local_yaml():
    cluster = yaml.safe_load((ROOT / "deploy" / "cluster-local.yaml").read_text())
    (job,) = _scrape_configs("onprem.yml")
    machines = [cluster["provider"]["head_ip"], *cluster["provider"]["worker_ips"]]
    assert job["static_configs"][0]["targets"] == [f"{ip}:{METRICS_PORT}" for ip in machines]


def test_every_cluster_node_exports_metrics_on_the_scraped_port():
    for name in ("cluster.yaml", "cluster-local.yaml"):
        cluster = yaml.safe_load((ROOT / "deploy" / name).read_text())
        for key in ("head_start_ray_commands", "worker_start_ray_commands"):
            assert any(f"--metrics-export-port={METRICS_PORT}" in command for command in cluster[key]), (name, key)


def test_grafana_provisioning_points_at_the_dashboard_folder_and_prometheus():
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:9090"
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/vtrax.yml").read_text())
    mounted = re.search(r'grafana/dashboards:(\S+):ro', (MONITORING / "run.sh").read_text()).group(1)
    assert provider["providers"][0]["options"]["path"] == mounted
    assert "--web.listen-address=127.0.0.1:9090" in (MONITORING / "run.sh").read_text()


def metrics_table() -> str:
    """The README's metrics table, as deploy/monitoring/ray_metrics.py defines the metrics."""
    rows = ["| metric (Prometheus name) | unit | meaning |", "| --- | --- | --- |"]
    rows += [f"| `ray_{gauge.name}` | {gauge.unit} | {gauge.meaning} |" for gauge in (*GAUGES, LOSS_GAUGE)]
    return "\n".join(rows)


def test_deploy_readme_has_the_metrics_table_of_metrics_export():
    table = metrics_table()
    assert table in (ROOT / "deploy" / "README.md").read_text(), f"paste this table into deploy/README.md:\n{table}"


def test_top_level_readme_documents_every_metric():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in EXPORTED if f"`{name}`" not in readme)
    assert not missing, f"README.md's metrics table lacks {missing}; copy the table from deploy/README.md"
    assert metrics_table() in readme, f"README.md's metrics table drifted; paste this table:\n{metrics_table()}"
