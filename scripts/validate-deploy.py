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
- deploy/grafana, deploy/prometheus: every lede_* series a panel queries is one lede exports
  (src/metrics.rs).
- deploy/Dockerfile: multi-stage, model fetched with the pinned script, non-root, HEALTHCHECK.

Usage: scripts/validate-deploy.py [--root DIR]. Exit 0 when valid, 1 with the problems listed,
3 when a tool is missing (with how to install it). Run by tests/deploy.rs, i.e. by `make test`.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

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
    docs = load_k8s(c)
    by_kind = {}
    for file, doc in docs:
        kind = doc.get("kind")
        by_kind.setdefault(kind, []).append(doc)
        where = f"{file}: {kind}/{doc.get('metadata', {}).get('name')}"
        if doc.get("apiVersion", "").startswith("keda.sh/"):
            errors = sorted(
                jsonschema.Draft7Validator(keda_schema).iter_errors(doc), key=lambda e: e.path
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
    one("Job")
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
        c.check(
            monitor_host == nats_host,
            f"scaledobject: monitors {monitor_host!r} but lede connects to {nats_host!r}",
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
    args = parser.parse_args()
    c = Checker(os.path.abspath(args.root))
    check_compose(c)
    check_dashboard(c)
    check_k8s(c)
    check_dockerfile(c)
    for error in c.errors:
        print(f"error: {error}")
    print(f"deploy: {c.passed} checks passed, {len(c.errors)} failed")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
