#!/usr/bin/env python3
"""Validates lede's deployment files offline (no container engine, no cluster, no network).

- docker-compose.yml: `docker-compose config -q`, then what lede needs of it (JetStream with a
  volume and healthcheck, several worker replicas, a stop grace period above lede's shutdown
  timeout, Prometheus, Grafana, a trace receiver, replicas x in-flight <= max_ack_pending).
- deploy/k8s/*.yaml: every built-in kind against the Kubernetes JSON schemas bundled in the
  `kubernetes-validate` package (strict: unknown fields fail), the KEDA ScaledObject against
  deploy/k8s/schemas/keda-scaledobject-v1alpha1.json, and the cross-references a schema cannot
  see (the ScaledObject's stream and consumer are the ones lede binds to and provisions; a
  misnamed consumer makes KEDA scale to the maximum).
- deploy/grafana, deploy/prometheus: every lede_* series a panel, an alert or a rules test
  names is one lede exports (src/metrics.rs); the alerting rules pass `promtool check rules`
  and their unit tests (deploy/prometheus/tests/*.test.yml) pass `promtool test rules`; every
  dashboard panel expression, turned into a recording rule, returns a non-zero sample over the
  synthetic series of deploy/prometheus/tests/dashboard.series.yml (`promtool test rules`);
  the PrometheusRule of deploy/k8s/ holds exactly the groups of the compose rules file.
- docker-compose.yml's `cluster` profile (`docker-compose --profile cluster config -q`): three
  JetStream nodes routed to each other, each with its own volume, R3 provisioning from the same
  deploy/k8s/nats/ files, workers on a cluster node after provisioning.
- deploy/Dockerfile: multi-stage, model fetched with the pinned script, non-root, HEALTHCHECK.

Usage: scripts/validate-deploy.py [--root DIR] [--write-prometheusrule]. Exit 0 when valid, 1
with the problems listed, 3 when a tool is missing (with how to install it). Run by
tests/deploy.rs, i.e. by `make test`. --write-prometheusrule regenerates
deploy/k8s/prometheusrule.yaml from deploy/prometheus/rules/lede.rules.yml first.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MISSING_TOOL = 3
INSTALL_HINT = "run `make setup`, which installs it"

try:
    import yaml
    import jsonschema
    import kubernetes_validate
except ImportError as e:  # pragma: no cover - the message is the point
    print(
        f"error: python module missing ({e}); {INSTALL_HINT} into .venv/ "
        "(`make test` runs with .venv/bin first on PATH)",
        file=sys.stderr,
    )
    sys.exit(MISSING_TOOL)

# The Kubernetes version the manifests are checked against (bundled by kubernetes-validate).
KUBERNETES_VERSION = "1.30.0"


class Checker:
    def __init__(self, root):
        self.root = root
        self.errors = []
        self.passed = 0

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.errors.append(message)
        return ok


def seconds(value):
    """'20s', '1m30s', '500ms', 40 -> seconds (float)."""
    if isinstance(value, (int, float)):
        return float(value)
    total, matched = 0.0, False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(value)):
        matched = True
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    if not matched:
        raise ValueError(f"not a duration: {value!r}")
    return total


def exported_metrics(c):
    """The metric names lede exports, from the constants in src/metrics.rs."""
    with open(c.path("src", "metrics.rs"), encoding="utf-8") as f:
        source = f.read()
    names = set(re.findall(r'pub const [A-Z_]+: &str = "(lede_[a-z_]+)"', source))
    histograms = set(re.findall(r"histogram!\(\s*([A-Z_]+)", source))
    consts = dict(re.findall(r'pub const ([A-Z_]+): &str = "(lede_[a-z_]+)"', source))
    series = set(names)
    for const in histograms:
        if const in consts:
            series |= {consts[const] + s for s in ("_bucket", "_sum", "_count")}
    return series


def check_compose(c):
    compose_file = c.path("docker-compose.yml")
    binary = shutil.which("docker-compose")
    if binary is None:
        print(
            "error: docker-compose not found; install it with "
            f"`apt-get install -y docker-compose` or {INSTALL_HINT}",
            file=sys.stderr,
        )
        sys.exit(MISSING_TOOL)
    run = subprocess.run(
        [binary, "-f", compose_file, "config", "-q"],
        cwd=c.root,
        capture_output=True,
        text=True,
    )
    if not c.check(run.returncode == 0, f"docker-compose config -q: {run.stderr.strip()}"):
        return
    with open(compose_file, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    services = compose.get("services", {})
    for name in ("nats", "lede", "prometheus", "grafana"):
        c.check(name in services, f"compose: no `{name}` service")
    c.check(
        "jaeger" in services or "otel-collector" in services,
        "compose: no trace receiver (jaeger or otel-collector)",
    )
    nats = services.get("nats", {})
    command = " ".join(map(str, nats.get("command", [])))
    c.check("-js" in command.split(), "compose: nats runs without JetStream (-js)")
    c.check(
        any(":/data" in str(v) for v in nats.get("volumes", [])) and "-sd /data" in command,
        "compose: the JetStream store (-sd /data) is not on a volume",
    )
    c.check("-m 8222" in command, "compose: nats has no monitoring port (-m 8222)")
    c.check("healthcheck" in nats, "compose: nats has no healthcheck")

    lede = services.get("lede", {})
    env = lede.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    replicas = lede.get("deploy", {}).get("replicas", lede.get("scale", 1))
    c.check(replicas >= 2, f"compose: lede has {replicas} replica(s); run several")
    timeout = seconds(env.get("LEDE_SHUTDOWN_TIMEOUT", "20s"))
    grace = seconds(lede.get("stop_grace_period", "10s"))
    c.check(
        grace > timeout,
        f"compose: stop_grace_period {grace}s is not above LEDE_SHUTDOWN_TIMEOUT {timeout}s",
    )
    in_flight = int(env.get("LEDE_IN_FLIGHT", 64))
    max_ack = int(env.get("LEDE_MAX_ACK_PENDING", 1024))
    c.check(
        replicas * in_flight <= max_ack,
        f"compose: {replicas} replicas x {in_flight} in flight exceeds max_ack_pending {max_ack}",
    )
    c.check("LEDE_HTTP_ADDR" in env, "compose: lede serves no /metrics (LEDE_HTTP_ADDR)")
    otlp = str(env.get("LEDE_OTLP_ENDPOINT", ""))
    host = re.sub(r"^https?://", "", otlp).split(":")[0].split("/")[0]
    c.check(host in services, f"compose: LEDE_OTLP_ENDPOINT {otlp!r} is not a compose service")
    if str(env.get("LEDE_ENSURE_STREAMS", "true")).lower() == "false":
        c.check(
            "nats-provision" in lede.get("depends_on", {}),
            "compose: lede binds to provisioned streams but does not wait for nats-provision",
        )
    c.check("healthcheck" in lede, "compose: lede has no healthcheck")

    with open(c.path("deploy", "prometheus", "prometheus.yml"), encoding="utf-8") as f:
        prometheus = yaml.safe_load(f)
    port = str(env.get("LEDE_HTTP_ADDR", ":8080")).rsplit(":", 1)[-1]
    jobs = {j["job_name"]: j for j in prometheus.get("scrape_configs", [])}
    lede_job = jobs.get("lede", {})
    targets = json.dumps(lede_job)
    c.check(
        "lede" in targets and port in targets,
        f"prometheus: no `lede` scrape job on port {port}",
    )

PROMTOOL_HINT = "`apt-get install -y prometheus` (Debian's package brings promtool)"
RULES_FILE = ("deploy", "prometheus", "rules", "lede.rules.yml")
PROMETHEUS_RULE = ("deploy", "k8s", "prometheusrule.yaml")
DASHBOARD_SERIES = ("deploy", "prometheus", "tests", "dashboard.series.yml")
# Grafana's interval variables, as a 15 s scrape interval makes them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def promtool():
    binary = shutil.which("promtool")
    if binary is None:
        print(
            f"error: promtool not found; install it with {PROMTOOL_HINT} or {INSTALL_HINT}",
            file=sys.stderr,
        )
        sys.exit(MISSING_TOOL)
    return binary


def run_promtool(*args, cwd=None):
    run = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True)
    return run.returncode, (run.stdout + run.stderr).strip()


def check_names(c, path, series):
    """Every lede_* name in `path` is a series lede exports."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for name in sorted(set(re.findall(r"\blede_[a-z_]+", text))):
        c.check(
            name in series,
            f"{os.path.relpath(path, c.root)}: names {name}, which lede does not export",
        )


def prometheusrule_text(c):
    """deploy/k8s/prometheusrule.yaml as generated from the compose rules file."""
    with open(c.path(*RULES_FILE), encoding="utf-8") as f:
        rules = f.read()
    groups = rules[rules.index("\ngroups:") + 1 :]
    indented = "".join(("  " + line if line.strip() else line) for line in groups.splitlines(True))
    return (
        "# GENERATED from deploy/prometheus/rules/lede.rules.yml by\n"
        "# `scripts/validate-deploy.py --write-prometheusrule`; edit that file, not this one.\n"
        "# lede's alerts for the Prometheus Operator (kube-prometheus-stack): the runbook for each\n"
        "# is in the README (\"Deploy\" -> \"Alerts\"). The `release` label is the one\n"
        "# kube-prometheus-stack's default ruleSelector matches; change it to your Prometheus's.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: lede\n"
        "  labels:\n"
        "    app.kubernetes.io/name: lede\n"
        "    release: kube-prometheus-stack\n"
        "spec:\n" + indented
    )


def check_rules(c):
    series = exported_metrics(c)
    rules = sorted(glob.glob(c.path("deploy", "prometheus", "rules", "*.yml")))
    tests = sorted(glob.glob(c.path("deploy", "prometheus", "tests", "*.test.yml")))
    c.check(rules, "deploy/prometheus/rules: no rules files")
    c.check(tests, "deploy/prometheus/tests: no rules unit tests")
    code, out = run_promtool("check", "rules", *rules)
    c.check(code == 0, f"promtool check rules: {out}")
    code, out = run_promtool("test", "rules", *tests)
    c.check(code == 0, f"promtool test rules: {out}")
    for path in rules + tests + [c.path(*DASHBOARD_SERIES)]:
        check_names(c, path, series)

    # Every alert has its runbook line in the README.
    with open(c.path(*RULES_FILE), encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    alerts = [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
    readme_path = c.path("README.md")
    if os.path.isfile(readme_path):
        with open(readme_path, encoding="utf-8") as f:
            readme = f.read()
        for alert in alerts:
            c.check(f"`{alert}`" in readme, f"README.md: no runbook line for alert {alert}")

    # The operator's copy says the same.
    try:
        with open(c.path(*PROMETHEUS_RULE), encoding="utf-8") as f:
            k8s = yaml.safe_load(f)
    except FileNotFoundError:
        k8s = {}
    c.check(
        k8s.get("spec", {}).get("groups") == groups,
        "deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/rules/lede.rules.yml; "
        "regenerate it with `scripts/validate-deploy.py --write-prometheusrule`",
    )

    # Compose's Prometheus loads the rules file.
    with open(c.path("deploy", "prometheus", "prometheus.yml"), encoding="utf-8") as f:
        prometheus = yaml.safe_load(f)
    with open(c.path("docker-compose.yml"), encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    mounts = compose.get("services", {}).get("prometheus", {}).get("volumes", [])
    mounted = {
        str(v).split(":")[1]: str(v).split(":")[0]
        for v in mounts
        if str(v).split(":")[0].rstrip("/").endswith("deploy/prometheus/rules")
    }
    loaded = prometheus.get("rule_files", [])
    c.check(
        any(os.path.dirname(p) in mounted for p in loaded),
        f"compose: Prometheus loads rule_files {loaded} but mounts deploy/prometheus/rules at "
        f"{sorted(mounted)}",
    )


def check_dashboard_queries(c):
    """Each panel expression as a recording rule, asserted non-zero by `promtool test rules`."""
    with open(c.path(*DASHBOARD_SERIES), encoding="utf-8") as f:
        series = yaml.safe_load(f)
    records, cases = [], []
    for path in sorted(glob.glob(c.path("deploy", "grafana", "dashboards", "*.json"))):
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        board = re.sub(r"[^a-z0-9_]", "_", os.path.splitext(os.path.basename(path))[0])
        for i, panel in enumerate(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                name = f"dashboard:{board}_{i}_{target.get('refId', 'A').lower()}"
                records.append({"record": name, "expr": expr})
                cases.append((name, f"{os.path.basename(path)}: panel {panel.get('title')!r}", expr))
    c.check(records, "deploy/grafana/dashboards: no panel expressions")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "dashboard.rules.yml"), "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}, f)
        code, out = run_promtool("check", "rules", os.path.join(tmp, "dashboard.rules.yml"))
        if not c.check(code == 0, f"dashboard queries do not parse: {out}"):
            return
        test = {
            "rule_files": ["dashboard.rules.yml"],
            "evaluation_interval": series["interval"],
            "tests": [
                {
                    "interval": series["interval"],
                    "input_series": series["input_series"],
                    "promql_expr_test": [
                        {
                            # Non-empty, and some sample above zero (NaN, from a quantile
                            # over no rate, is not).
                            "expr": f"count({name} > 0) > bool 0",
                            "eval_time": "10m",
                            "exp_samples": [{"labels": "{}", "value": 1}],
                        }
                        for name, _, _ in cases
                    ],
                }
            ],
        }
        with open(os.path.join(tmp, "dashboard.test.yml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(test, f)
        code, out = run_promtool("test", "rules", "dashboard.test.yml", cwd=tmp)
    failed = set(re.findall(r"expr: \"count\((dashboard:[a-z0-9_]+) > 0\)", out))
    for name, where, expr in cases:
        c.check(
            code == 0 or name not in failed,
            f"{where}: {expr} returns no non-zero sample over "
            f"deploy/prometheus/tests/dashboard.series.yml",
        )
    c.check(code == 0 or failed, f"promtool test rules (dashboard): {out}")


def check_cluster_profile(c):
    compose_file = c.path("docker-compose.yml")
    run = subprocess.run(
        [shutil.which("docker-compose"), "-f", compose_file, "--profile", "cluster", "config", "-q"],
        cwd=c.root,
        capture_output=True,
        text=True,
    )
    if not c.check(
        run.returncode == 0, f"docker-compose --profile cluster config -q: {run.stderr.strip()}"
    ):
        return
    with open(compose_file, encoding="utf-8") as f:
        services = yaml.safe_load(f).get("services", {})
    cluster = {n: s for n, s in services.items() if "cluster" in s.get("profiles", [])}
    nodes = {
        n: s
        for n, s in cluster.items()
        if "--cluster" in [str(a) for a in s.get("command", [])]
    }
    if not c.check(len(nodes) >= 3, f"compose cluster profile: {len(nodes)} NATS nodes, need 3"):
        return

    def flag(service, name):
        args = [str(a) for a in service.get("command", [])]
        return args[args.index(name) + 1] if name in args[:-1] else None

    names = set()
    for name, node in nodes.items():
        args = [str(a) for a in node.get("command", [])]
        c.check("-js" in args, f"compose: {name} runs without JetStream")
        c.check(
            any(":/data" in str(v) for v in node.get("volumes", [])),
            f"compose: {name} keeps its JetStream store off a volume",
        )
        c.check("healthcheck" in node, f"compose: {name} has no healthcheck")
        names.add(flag(node, "--name"))
        routes = flag(node, "--routes") or ""
        others = {re.sub(r"^nats://", "", r).split(":")[0] for r in routes.split(",") if r}
        c.check(
            set(nodes) - {name} <= others,
            f"compose: {name} routes to {sorted(others)}, not to every other node",
        )
    c.check(len(names) == len(nodes), "compose: cluster nodes share a --name")
    c.check(
        len({flag(n, "--cluster_name") for n in nodes.values()}) == 1,
        "compose: cluster nodes disagree on --cluster_name",
    )
    provisioners = [s for s in cluster.values() if "/provision" in json.dumps(s.get("volumes", []))]
    if c.check(len(provisioners) == 1, "compose cluster profile: expected one provisioning service"):
        p = provisioners[0]
        env = p.get("environment", {})
        replicas = int(env.get("NATS_STREAM_REPLICAS", 1))
        c.check(
            1 < replicas <= len(nodes) and replicas % 2 == 1,
            f"compose: the cluster provisions R{replicas} streams on {len(nodes)} nodes",
        )
        c.check(
            any("deploy/k8s/nats:/provision" in str(v) for v in p.get("volumes", [])),
            "compose: the cluster is not provisioned from deploy/k8s/nats/",
        )
        c.check(
            set(nodes) <= set(p.get("depends_on", {})),
            "compose: cluster provisioning does not wait for every node",
        )
    workers = [s for s in cluster.values() if "LEDE_NATS_URL" in s.get("environment", {})]
    if c.check(workers, "compose cluster profile: no lede worker service"):
        urls = str(workers[0]["environment"]["LEDE_NATS_URL"])
        hosts = {re.sub(r"^nats://", "", u).split(":")[0] for u in urls.split(",")}
        c.check(
            hosts <= set(nodes),
            f"compose: the cluster workers connect to {sorted(hosts)}, not to cluster nodes",
        )
        provisioner = [n for n, s in cluster.items() if s is (provisioners or [None])[0]]
        c.check(
            set(provisioner) <= set(workers[0].get("depends_on", {})),
            "compose: the cluster workers do not wait for the cluster's provisioning",
        )


def check_dashboard(c):
    series = exported_metrics(c)
    c.check(len(series) > 10, "src/metrics.rs: found too few metric names to check against")
    for path in glob.glob(c.path("deploy", "grafana", "dashboards", "*.json")):
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        titles = [p.get("title", "").lower() for p in dashboard.get("panels", [])]
        for wanted in ("throughput", "per-stage latency", "dlq", "consumer lag", "redeliver"):
            c.check(
                any(wanted in t for t in titles),
                f"{os.path.basename(path)}: no panel about {wanted}",
            )
        for panel in dashboard.get("panels", []):
            for target in panel.get("targets", []):
                for name in re.findall(r"\blede_[a-z_]+", target.get("expr", "")):
                    c.check(
                        name in series,
                        f"{os.path.basename(path)}: panel {panel.get('title')!r} queries "
                        f"{name}, which lede does not export",
                    )


def load_k8s(c):
    docs = []
    for path in sorted(glob.glob(c.path("deploy", "k8s", "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs.append((os.path.basename(path), doc))
    return docs


def check_k8s(c):
    with open(c.path("deploy", "k8s", "schemas", "keda-scaledobject-v1alpha1.json")) as f:
        keda_schema = json.load(f)
    # The Prometheus Operator's kinds (CRDs, so not in the Kubernetes schemas).
    crd_schemas = {}
    for kind, file in (
        ("PrometheusRule", "monitoring-prometheusrule-v1.json"),
        ("ServiceMonitor", "monitoring-servicemonitor-v1.json"),
    ):
        with open(c.path("deploy", "k8s", "schemas", file)) as f:
            crd_schemas[kind] = json.load(f)
    docs = load_k8s(c)
    by_kind = {}
    for file, doc in docs:
        kind = doc.get("kind")
        by_kind.setdefault(kind, []).append(doc)
        where = f"{file}: {kind}/{doc.get('metadata', {}).get('name')}"
        crd = doc.get("apiVersion", "").startswith(("keda.sh/", "monitoring.coreos.com/"))
        if crd:
            schema = keda_schema if doc["apiVersion"].startswith("keda.sh/") else crd_schemas.get(kind)
            if not c.check(schema is not None, f"{where}: no schema for {kind}"):
                continue
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path)
            )
            c.check(
                not errors,
                f"{where}: " + "; ".join(
                    f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
                ),
            )
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                c.check(True, "")
            except kubernetes_validate.ValidationError as e:
                path = "/".join(map(str, e.path))
                c.check(False, f"{where}: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                c.check(False, f"{where}: {e.message}")

    with open(c.path("deploy", "k8s", "kustomization.yaml"), encoding="utf-8") as f:
        kustomization = yaml.safe_load(f)
    listed = set(kustomization.get("resources", []))
    present = {f for f, _ in docs}
    c.check(
        listed == present,
        f"kustomization.yaml lists {sorted(listed)}, deploy/k8s has {sorted(present)}",
    )
    for generator in kustomization.get("configMapGenerator", []):
        for file in generator.get("files", []):
            c.check(
                os.path.isfile(c.path("deploy", "k8s", file)),
                f"kustomization.yaml: {file} does not exist",
            )

    def one(kind):
        found = by_kind.get(kind, [])
        c.check(len(found) == 1, f"deploy/k8s: expected one {kind}, found {len(found)}")
        return found[0] if found else {}

    deployment, config, scaled, pdb = (
        one("Deployment"),
        one("ConfigMap"),
        one("ScaledObject"),
        one("PodDisruptionBudget"),
    )
    env = config.get("data", {})
    with open(c.path("deploy", "k8s", "nats", "consumer-lede.json")) as f:
        consumer = json.load(f)
    with open(c.path("deploy", "k8s", "nats", "stream-ARTICLES.json")) as f:
        stream = json.load(f)

    c.check(env.get("LEDE_ENSURE_STREAMS") == "false", "configmap: production must not create streams")
    c.check(
        env.get("LEDE_CONSUMER", "lede") == consumer["durable_name"],
        f"configmap LEDE_CONSUMER {env.get('LEDE_CONSUMER')!r} is not the provisioned consumer "
        f"{consumer['durable_name']!r}",
    )
    c.check(
        env.get("LEDE_INPUT_STREAM", "ARTICLES") == stream["name"],
        "configmap LEDE_INPUT_STREAM is not the provisioned stream",
    )
    c.check(
        int(env.get("LEDE_MAX_ACK_PENDING", 1024)) == consumer["max_ack_pending"],
        "configmap LEDE_MAX_ACK_PENDING differs from the provisioned consumer's max_ack_pending",
    )

    spec = scaled.get("spec", {})
    c.check(
        spec.get("scaleTargetRef", {}).get("name") == deployment.get("metadata", {}).get("name"),
        "scaledobject: scaleTargetRef is not the lede Deployment",
    )
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "nats-jetstream"]
    if c.check(len(triggers) == 1, "scaledobject: expected one nats-jetstream trigger"):
        meta = triggers[0].get("metadata", {})
        c.check(
            meta.get("stream") == stream["name"],
            f"scaledobject: stream {meta.get('stream')!r} is not {stream['name']!r}",
        )
        c.check(
            meta.get("consumer") == consumer["durable_name"],
            f"scaledobject: consumer {meta.get('consumer')!r} is not the provisioned consumer "
            f"{consumer['durable_name']!r} (KEDA would scale to maxReplicaCount)",
        )
        monitor_host = meta.get("natsServerMonitoringEndpoint", "").split(":")[0]
        nats_host = re.sub(r"^nats://", "", env.get("LEDE_NATS_URL", "")).split(":")[0]
        service, _, domain = nats_host.partition(".")
        headless = f"{service}-headless.{domain}"
        # In a cluster KEDA queries the consumer leader at <server>.<endpoint>: only the
        # headless Service (one DNS name per pod) answers that.
        c.check(
            monitor_host == headless
            or (monitor_host == nats_host and int(env.get("NATS_STREAM_REPLICAS", 1)) == 1),
            f"scaledobject: monitors {monitor_host!r}; for the NATS that lede connects to "
            f"({nats_host!r}) it must be the headless Service {headless!r}",
        )
    max_replicas = spec.get("maxReplicaCount", 100)
    in_flight = int(env.get("LEDE_IN_FLIGHT", 64))
    c.check(
        max_replicas * in_flight <= consumer["max_ack_pending"],
        f"scaledobject: maxReplicaCount {max_replicas} x LEDE_IN_FLIGHT {in_flight} exceeds "
        f"max_ack_pending {consumer['max_ack_pending']}",
    )

    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    grace = pod.get("terminationGracePeriodSeconds", 30)
    timeout = seconds(env.get("LEDE_SHUTDOWN_TIMEOUT", "20s"))
    c.check(
        grace > timeout,
        f"deployment: terminationGracePeriodSeconds {grace} is not above LEDE_SHUTDOWN_TIMEOUT {timeout}s",
    )
    containers = pod.get("containers", [])
    if c.check(len(containers) == 1, "deployment: expected one container"):
        container = containers[0]
        live = container.get("livenessProbe", {}).get("httpGet", {}).get("path")
        ready = container.get("readinessProbe", {}).get("httpGet", {}).get("path")
        c.check(live == "/healthz", f"deployment: liveness probes {live!r}, not /healthz")
        c.check(ready == "/readyz", f"deployment: readiness probes {ready!r}, not /readyz")
        c.check("resources" in container, "deployment: no resources")
        port = env.get("LEDE_HTTP_ADDR", "").rsplit(":", 1)[-1]
        ports = [str(p.get("containerPort")) for p in container.get("ports", [])]
        c.check(port in ports, f"deployment: LEDE_HTTP_ADDR port {port} is not a container port")
    job = one("Job")
    job_env = {
        e.get("name"): e
        for container in job.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        for e in container.get("env", [])
    }
    replicas = env.get("NATS_STREAM_REPLICAS")
    c.check(
        replicas in ("1", "3", "5")
        and job_env.get("NATS_STREAM_REPLICAS", {}).get("valueFrom", {}).get("configMapKeyRef", {}).get("key")
        == "NATS_STREAM_REPLICAS",
        f"provision job: NATS_STREAM_REPLICAS ({replicas!r} in the configmap) must be 1, 3 or 5 "
        "and reach the Job",
    )
    service, monitor = one("Service"), one("ServiceMonitor")
    wanted = monitor.get("spec", {}).get("selector", {}).get("matchLabels", {})
    have = service.get("metadata", {}).get("labels", {})
    c.check(
        wanted and all(have.get(k) == v for k, v in wanted.items()),
        "servicemonitor: selector does not match the lede Service",
    )
    ports = {p.get("name") for p in service.get("spec", {}).get("ports", [])}
    for endpoint in monitor.get("spec", {}).get("endpoints", []):
        c.check(
            endpoint.get("port") in ports and endpoint.get("path", "/metrics") == "/metrics",
            f"servicemonitor: scrapes port {endpoint.get('port')!r} of {sorted(ports)}",
        )
    labels = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
    c.check(
        selector and all(labels.get(k) == v for k, v in selector.items()),
        "pdb: selector does not match the Deployment's pods",
    )


def check_dockerfile(c):
    with open(c.path("deploy", "Dockerfile"), encoding="utf-8") as f:
        text = f.read()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", text, flags=re.M | re.I)
    c.check(len(stages) >= 3, "Dockerfile: expected model, build and runtime stages")
    c.check("scripts/fetch-model.sh" in text, "Dockerfile: the model is not fetched with scripts/fetch-model.sh")
    final = text[text.rfind("\nFROM") :]
    user = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    c.check(user and not user[-1].startswith(("root", "0")), "Dockerfile: the runtime stage runs as root")
    c.check(re.search(r"^HEALTHCHECK\s", final, flags=re.M), "Dockerfile: no HEALTHCHECK in the runtime stage")
    c.check(os.path.isfile(c.path("scripts", "fetch-model.sh")), "scripts/fetch-model.sh is missing")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument(
        "--write-prometheusrule",
        action="store_true",
        help="regenerate deploy/k8s/prometheusrule.yaml from the compose rules file first",
    )
    args = parser.parse_args()
    c = Checker(os.path.abspath(args.root))
    if args.write_prometheusrule:
        with open(c.path(*PROMETHEUS_RULE), "w", encoding="utf-8") as f:
            f.write(prometheusrule_text(c))
    check_compose(c)
    check_cluster_profile(c)
    check_dashboard(c)
    check_rules(c)
    check_dashboard_queries(c)
    check_k8s(c)
    check_dockerfile(c)
    for error in c.errors:
        print(f"error: {error}")
    print(f"deploy: {c.passed} checks passed, {len(c.errors)} failed")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
