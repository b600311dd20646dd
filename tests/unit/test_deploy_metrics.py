"""The metrics profile as shipped (no Docker engine runs here, so its files are checked as files): the
Grafana dashboard is valid JSON whose every panel queries the provisioned data source, every metric the
bot exports is on a panel and every metric a panel asks for is one the bot exports; Prometheus scrapes
the port and the processes the compose file gives the bot; every file the profile mounts exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.core.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/dashboards/pixazo-bot.json"
SUFFIXES = re.compile(r"_(bucket|sum|count|total)$")


def load_yaml(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def exported() -> set[str]:
    """Every metric family the bot's registry exports (counters without their _total)."""
    return {SUFFIXES.sub("", family.name) for family in Metrics().registry.collect()}


def charted() -> set[str]:
    return {SUFFIXES.sub("", name) for panel in panels() for target in panel["targets"]
            for name in re.findall(r"\bpixazo_bot_[a-z_]+", target["expr"])}


def test_every_exported_metric_is_on_a_panel_and_every_charted_one_exists():
    assert len(exported()) >= 15
    assert exported() - charted() == set(), "exported but on no panel"
    assert charted() - exported() == set(), "on a panel but not exported"


def test_every_panel_has_a_title_a_query_and_the_provisioned_data_source():
    (source,) = load_yaml("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels():
        assert panel["title"] and panel["targets"], panel
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"] and target["expr"].count("(") == target["expr"].count(")")
            assert 'shard=~"$shard"' in target["expr"], f"{panel['title']}: follows the shard picker"


def test_the_compose_profile_runs_prometheus_and_grafana_on_what_the_bot_serves():
    compose = load_yaml("docker-compose.yml")
    services = compose["services"]
    assert services["prometheus"]["profiles"] == ["metrics"] and services["grafana"]["profiles"] == ["metrics"]
    assert "profiles" not in services["bot"], "the bot runs without the profile, and serves /metrics for it"
    (scrape,) = load_yaml("deploy/prometheus/prometheus.yml")["scrape_configs"]
    (sd,) = scrape["dns_sd_configs"]
    bots = {name for name, service in services.items() if "METRICS_PORT" in service.get("environment", {})}
    assert set(sd["names"]) == bots == {"bot", "bot-shard0", "bot-shard1"}
    for name in bots:
        environment = services[name]["environment"]
        assert (int(environment["METRICS_PORT"]), environment["METRICS_HOST"]) == (sd["port"], "0.0.0.0")
        assert not services[name].get("ports"), "the metrics port stays inside the compose network"
    for name in ("prometheus", "grafana"):
        for mount in services[name]["volumes"]:
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), "this machine only"
    (source,) = load_yaml("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = load_yaml("deploy/grafana/provisioning/dashboards/pixazo-bot.yml")["providers"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in services["grafana"]["volumes"]
    assert {"pixazo-prometheus", "pixazo-grafana"} <= set(compose["volumes"])
