"""`k8s apply` / `k8s status` against a loopback server speaking the bit of the Kubernetes API they use.

A contract test: the real kubernetes client, a generated kubeconfig, and an HTTP server on
127.0.0.1 that answers like kube-apiserver with KubeRay installed (discovery of ray.io/v1,
server-side apply PATCHes, GET of the RayService with the status KubeRay writes). Every status
the server returns is first checked against the vendored RayService CRD schema.
"""

from __future__ import annotations

import copy
import json
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.support import ROOT
from tests.support.k8s import rayservice
from topicserve.cli import main
from topicserve.k8s import schema

NS = "team-a"
TOKEN = "loopback-bearer"  # the kubeconfig's credential for the fake server; not a secret


def status_doc(app_status: str | None, *, observed: int = 1, message: str = "", deployments=None) -> dict:
    status: dict = {"observedGeneration": observed}
    if app_status:
        app = {"status": app_status}
        if message:
            app["message"] = message
        if deployments:
            app["serveDeploymentStatuses"] = deployments
        status["activeServiceStatus"] = {
            "applicationStatuses": {"topicserve": app},
            "rayClusterName": "topicserve-raycluster-x7k2p",
        }
        status["serviceStatus"] = "Running" if app_status == "RUNNING" else "WaitForServeDeploymentReady"
    return status


def not_found(message: str, **details) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NotFound",
        "details": details,
        "code": 404,
    }


class FakeKube:
    """State of the fake API server, and what it was asked."""

    def __init__(self) -> None:
        self.crd_installed = True
        self.forbidden: set[str] = set()  # resource plurals whose PATCH answers 403
        self.objects: dict[str, dict] = {}
        self.statuses: list[dict] = []  # served on successive GETs of a RayService (last repeats)
        self.requests: list[dict] = []
        self.gets = 0

    def serve(self, *statuses: dict) -> None:
        for status in statuses:
            obj = {**copy.deepcopy(self.rayservice_body()), "status": status}
            assert schema.errors(obj) == [], "the fake must answer what the CRD allows"
        self.statuses = list(statuses)

    def rayservice_body(self) -> dict:
        obj = rayservice("dev")
        return obj

    def patches(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "PATCH"]


def make_handler(fake: FakeKube):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body=None) -> tuple[list[str], dict]:
            url = urlparse(self.path)
            fake.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            return url.path.strip("/").split("/"), fake.requests[-1]

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            self._send(401, {"kind": "Status", "status": "Failure", "message": "Unauthorized", "code": 401})
            return False

        def do_GET(self) -> None:
            parts, _ = self._record()
            if not self._authorized():
                return
            if parts == ["apis", "ray.io", "v1"]:
                if not fake.crd_installed:
                    return self._send(404, not_found("the server could not find the requested resource"))
                resource = {"name": "rayservices", "singularName": "rayservice", "namespaced": True}
                resource |= {"kind": "RayService", "verbs": ["get", "list", "patch", "create", "delete", "watch"]}
                listing = {"kind": "APIResourceList", "groupVersion": "ray.io/v1", "resources": [resource]}
                return self._send(200, listing)
            key = "/".join(parts)
            if key not in fake.objects:
                name = parts[-1]
                missing = not_found(f'rayservices.ray.io "{name}" not found', name=name, kind="rayservices")
                return self._send(404, missing)
            obj = copy.deepcopy(fake.objects[key])
            if fake.statuses:
                obj["status"] = fake.statuses[min(fake.gets, len(fake.statuses) - 1)]
            fake.gets += 1
            return self._send(200, obj)

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            parts, _ = self._record(body)
            if not self._authorized():
                return
            plural, name = parts[-2], parts[-1]
            if plural in fake.forbidden:
                group = "ray.io" if plural == "rayservices" else ""
                message = (
                    f'{plural}.{group} "{name}" is forbidden: User "dev" cannot patch resource "{plural}" '
                    f'in API group "{group}" in the namespace "{parts[-3]}"'
                )
                return self._send(403, {"kind": "Status", "status": "Failure", "message": message, "code": 403})
            if plural == "rayservices" and not fake.crd_installed:
                return self._send(404, not_found("the server could not find the requested resource"))
            key = "/".join(parts)
            old = fake.objects.get(key)
            generation = (old or {}).get("metadata", {}).get("generation", 0)
            if old is None or old.get("spec") != body.get("spec"):
                generation += 1
            stored = copy.deepcopy(body)
            stored["metadata"] |= {"generation": generation, "resourceVersion": str(len(fake.requests))}
            stored["metadata"]["uid"] = "0b7c1c8e-0000-4000-8000-000000000001"
            fake.objects[key] = stored
            return self._send(200 if old else 201, stored)

    return Handler


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    state = FakeKube()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield state
    server.shutdown()
    server.server_close()


def write_kubeconfig(path: Path, server: str, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "loop", "cluster": {"server": server}}],
        "users": [{"name": "dev", "user": {"token": token}}],
        "contexts": [{"name": "loop", "context": {"cluster": "loop", "user": "dev", "namespace": NS}}],
        "current-context": "loop",
    }
    path.write_text(yaml.safe_dump(config))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["k8s", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


RAYSERVICE_PATH = f"/apis/ray.io/v1/namespaces/{NS}/rayservices/topicserve"


# ---- apply ------------------------------------------------------------------------------------
def test_apply_is_a_server_side_apply_of_the_rendered_overlay(fake, capsys):
    code, out, _ = run(capsys, "apply", "--overlay", "dev")
    assert code == 0
    patches = fake.patches()
    pvc_path = f"/api/v1/namespaces/{NS}/persistentvolumeclaims/topicserve-store"
    assert [p["path"] for p in patches] == [pvc_path, RAYSERVICE_PATH]
    for patch in patches:
        assert patch["headers"]["Content-Type"] == "application/apply-patch+yaml"
        assert patch["query"] == {"fieldManager": "topicserve", "force": "true"}
        assert patch["body"]["metadata"]["namespace"] == NS
    expected = fake.rayservice_body()
    sent = patches[1]["body"]
    assert {**sent, "metadata": {k: v for k, v in sent["metadata"].items() if k != "namespace"}} == expected
    assert f"rayservice/topicserve applied in namespace {NS} (context loop)" in out


def test_apply_can_pin_the_working_dir_and_target_a_namespace(fake, capsys):
    url = "https://github.com/topicserve/topicserve/archive/" + "a" * 40 + ".zip"
    code, _, _ = run(capsys, "apply", "--overlay", "prod", "--working-dir", url, "-n", "serving", "--dry-run")
    assert code == 0
    kinds = [p["path"].split("/")[-2] for p in fake.patches()]
    assert kinds == ["persistentvolumeclaims", "ingresses", "rayservices"]
    assert all(p["query"]["dryRun"] == "All" and "/namespaces/serving/" in p["path"] for p in fake.patches())
    config = yaml.safe_load(fake.patches()[-1]["body"]["spec"]["serveConfigV2"])
    assert [app["runtime_env"]["working_dir"] for app in config["applications"]] == [url]


def test_apply_without_kuberay_says_how_to_install_it(fake, capsys):
    fake.crd_installed = False
    code, _, err = run(capsys, "apply")
    assert code == 1
    assert "no RayService CRD (rayservices.ray.io/v1)" in err and "helm install kuberay-operator" in err
    assert fake.patches() == [], "nothing is applied to a cluster without KubeRay"


def test_apply_forbidden_names_the_permission(fake, capsys):
    fake.forbidden = {"rayservices"}
    code, _, err = run(capsys, "apply")
    assert code == 1
    assert "applying RayService topicserve: forbidden in namespace 'team-a'" in err
    assert 'cannot patch resource "rayservices"' in err
    assert "kubectl auth can-i patch rayservices.ray.io -n team-a" in err


def test_rejected_credentials_are_reported_without_the_credential(fake, capsys, tmp_path):
    server = yaml.safe_load((tmp_path / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
    wrong = "expired-" + secrets.token_hex(8)
    write_kubeconfig(tmp_path / "kubeconfig", server, wrong)
    code, out, err = run(capsys, "status")
    assert code == 1 and "rejected the credentials" in err
    assert wrong not in out + err


def test_an_invalid_rayservice_is_stopped_before_the_cluster(fake, capsys, tmp_path):
    overlay = tmp_path / "broken"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        f"resources:\n  - {ROOT / 'k8s/overlays/dev'}\npatches:\n  - target: {{kind: RayService}}\n"
        "    patch: '[{op: replace, path: /spec/rayClusterConfig/workerGroupSpecs/0/replicas, value: \"1\"}]'\n"
    )
    code, _, err = run(capsys, "apply", "--overlay", str(overlay))
    assert code == 1 and "does not match the KubeRay CRD schema" in err and "replicas" in err
    assert fake.requests == []


# ---- status -----------------------------------------------------------------------------------
def test_status_waits_for_running_then_prints_the_endpoint(fake, capsys):
    assert run(capsys, "apply")[0] == 0
    fake.serve(status_doc(None, observed=0), status_doc("DEPLOYING"), status_doc("DEPLOYING"), status_doc("RUNNING"))
    code, out, _ = run(capsys, "status", "--poll", "0.01", "--timeout", "60")
    assert code == 0
    assert fake.gets == 4
    assert "rayservice/topicserve: topicserve=DEPLOYING" in out
    assert f"http://topicserve-serve-svc.{NS}.svc.cluster.local:8000" in out
    assert f"kubectl -n {NS} port-forward svc/topicserve-serve-svc 8000:8000" in out


def test_status_ignores_a_running_status_from_before_the_latest_spec(fake, capsys):
    assert run(capsys, "apply")[0] == 0
    assert run(capsys, "apply", "--working-dir", "https://example.invalid/new.zip")[0] == 0
    fake.serve(status_doc("RUNNING", observed=1), status_doc("RUNNING", observed=2))
    assert run(capsys, "status", "--poll", "0.01")[0] == 0
    assert fake.gets == 2, "observedGeneration 1 < generation 2 is not yet RUNNING"


def test_status_waits_while_a_new_cluster_is_pending(fake, capsys):
    assert run(capsys, "apply")[0] == 0
    upgrading = status_doc("RUNNING")
    upgrading["pendingServiceStatus"] = {"rayClusterName": "topicserve-raycluster-new"}
    fake.serve(upgrading, status_doc("RUNNING"))
    assert run(capsys, "status", "--poll", "0.01")[0] == 0
    assert fake.gets == 2


def test_deploy_failed_prints_the_message_redacted_and_points_at_preflight(fake, capsys):
    token = "ghp_" + secrets.token_hex(18)
    url = f"https://x-access-token:{token}@github.com/topicserve/topicserve/archive/{'b' * 40}.zip"
    message = f"Failed to set up runtime env: requests.exceptions.HTTPError: 404 Client Error: Not Found for url: {url}"
    deployments = {"Ingress": {"status": "UNHEALTHY", "message": f"retrying download with token {token}"}}
    assert run(capsys, "apply")[0] == 0
    fake.serve(status_doc("DEPLOYING"), status_doc("DEPLOY_FAILED", message=message, deployments=deployments))
    code, out, err = run(capsys, "status", "--poll", "0.01")
    assert code == 1
    assert token not in out + err
    assert "application topicserve DEPLOY_FAILED" in err
    assert "404 Client Error: Not Found for url: https://***@github.com/topicserve/topicserve/archive/" in err
    assert "make preflight" in err


def test_status_times_out_with_the_last_state(fake, capsys):
    assert run(capsys, "apply")[0] == 0
    fake.serve(status_doc("DEPLOYING"))
    code, _, err = run(capsys, "status", "--poll", "0.01", "--timeout", "0.1")
    assert code == 1
    assert "RayService 'topicserve' not RUNNING after 0s (last: topicserve=DEPLOYING" in err
    assert "kubectl -n team-a describe rayservice topicserve" in err


def test_status_of_a_missing_rayservice(fake, capsys):
    code, _, err = run(capsys, "status", "--name", "nope")
    assert code == 1
    assert "RayService 'nope' not found in namespace 'team-a'" in err and "make k8s-apply" in err


def test_status_without_kuberay(fake, capsys):
    fake.crd_installed = False
    code, _, err = run(capsys, "status")
    assert code == 1 and "install the KubeRay operator" in err


# ---- no cluster ------------------------------------------------------------------------------
def test_no_kubeconfig(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = run(capsys, "status")
    assert code == 1
    assert f"no kubeconfig found (looked for {tmp_path / 'missing'})" in err and "kind create cluster" in err


def test_unreachable_api_server(tmp_path, monkeypatch, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", TOKEN)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    code, _, err = run(capsys, "apply")
    assert code == 1
    assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}" in err
