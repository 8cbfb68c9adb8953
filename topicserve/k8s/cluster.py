"""The Kubernetes side: apply rendered objects (server-side apply) and wait for the RayService.

Uses the official ``kubernetes`` client: CustomObjectsApi for the RayService, the typed APIs for
the PersistentVolumeClaim and the Ingress. Failures become one readable error each (no
kubeconfig, API unreachable, KubeRay CRD missing, 401/403, DEPLOY_FAILED, timeout); anything
that came from the cluster is passed through ``redact`` before it is shown.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import yaml

from topicserve.errors import InvalidInput, NotFound, NotReady, TopicServeError, UpstreamError
from topicserve.redact import redact

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayservices"
FIELD_MANAGER = "topicserve"
APPLY_PATCH = "application/apply-patch+yaml"
INCLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
KUBERAY_INSTALL = (
    "helm repo add kuberay https://ray-project.github.io/kuberay-helm/ && "
    "helm install kuberay-operator kuberay/kuberay-operator"
)
PREFLIGHT_HINT = "Run `make preflight` to check the Serve config (working_dir, imports) outside Ray."


@dataclass
class Kube:
    """An API client bound to one cluster and namespace."""

    api: Any  # kubernetes.client.ApiClient
    namespace: str
    context: str
    server: str


def connect(namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None) -> Kube:
    """The current kube context (or ``context``), its namespace unless ``namespace`` is given."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    files = [p for p in path.split(os.pathsep) if p and Path(p).expanduser().is_file()]
    if not files:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            ns = namespace or INCLUSTER_NAMESPACE.read_text().strip()
            return Kube(client.ApiClient(cfg), ns, "in-cluster", cfg.host)
        raise InvalidInput(
            f"no kubeconfig found (looked for {path}) and not running inside a cluster.\n"
            "Point KUBECONFIG at one, or create a local cluster: `kind create cluster`.",
            field="kubeconfig",
        )
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)
        if context:
            active = next((c for c in contexts if c["name"] == context), None)
            if active is None:
                raise InvalidInput(f"kube context {context!r} not found in {path}", field="context")
        api = config.new_client_from_config(config_file=path, context=active["name"], persist_config=False)
    except ConfigException as exc:
        raise InvalidInput(f"kubeconfig {path}: {exc}", field="kubeconfig") from None
    ns = namespace or active.get("context", {}).get("namespace") or "default"
    return Kube(api, ns, active["name"], api.configuration.host)


# ---- errors --------------------------------------------------------------------------------
def _status_message(exc: Any) -> str:
    """The ``message`` of a Kubernetes Status body, else the raw body or reason."""
    body = getattr(exc, "body", None) or ""
    try:
        return str(json.loads(body).get("message") or body)
    except (ValueError, AttributeError):
        return str(body or getattr(exc, "reason", "") or exc)


def _translate(exc: Exception, kube: Kube, action: str) -> TopicServeError:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    where = f"namespace {kube.namespace!r} (context {kube.context!r})"
    if isinstance(exc, ApiException):
        message = redact(_status_message(exc))
        if exc.status == 401:
            return UpstreamError(f"{action}: the API server rejected the credentials of {where}: {message}")
        if exc.status == 403:
            return UpstreamError(
                f"{action}: forbidden in {where}: {message}\n"
                f"Check your RBAC with `kubectl auth can-i patch {PLURAL}.{GROUP} -n {kube.namespace}` "
                "(and get, for status)."
            )
        return UpstreamError(f"{action}: Kubernetes API error {exc.status} in {where}: {message}")
    assert isinstance(exc, HTTPError | OSError), exc  # callers catch only these three kinds
    return UpstreamError(f"{action}: cannot reach the Kubernetes API server at {kube.server}: {redact(str(exc))}")


def _call(kube: Kube, action: str, fn: Callable[[], Any]) -> Any:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return fn()
    except (ApiException, HTTPError, OSError) as exc:
        raise _translate(exc, kube, action) from None


def ensure_crd(kube: Kube) -> None:
    """Fail clearly when the cluster does not serve ray.io/v1 RayServices (KubeRay missing)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    missing = NotFound(
        f"the cluster of context {kube.context!r} has no RayService CRD ({PLURAL}.{GROUP}/{VERSION}): "
        f"install the KubeRay operator first:\n  {KUBERAY_INSTALL}"
    )
    try:
        resources = client.CustomObjectsApi(kube.api).get_api_resources(GROUP, VERSION, _request_timeout=30)
    except ApiException as exc:
        if exc.status == 404:
            raise missing from None
        raise _translate(exc, kube, "checking for KubeRay") from None
    except (HTTPError, OSError) as exc:
        raise _translate(exc, kube, "checking for KubeRay") from None
    if not any(r.name == PLURAL for r in resources.resources or []):
        raise missing


# ---- apply ---------------------------------------------------------------------------------
def _appliers(kube: Kube) -> dict[str, Callable[[str, dict, dict], Any]]:
    from kubernetes import client

    custom = client.CustomObjectsApi(kube.api)
    core = client.CoreV1Api(kube.api)
    networking = client.NetworkingV1Api(kube.api)
    ns = kube.namespace
    return {
        "RayService": lambda name, body, kw: custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, name, body, **kw
        ),
        "PersistentVolumeClaim": lambda name, body, kw: core.patch_namespaced_persistent_volume_claim(
            name, ns, body, **kw
        ),
        "Ingress": lambda name, body, kw: networking.patch_namespaced_ingress(name, ns, body, **kw),
        "Secret": lambda name, body, kw: core.patch_namespaced_secret(name, ns, body, **kw),
    }


def apply(kube: Kube, objects: list[dict], *, dry_run: bool = False, out: Callable[[str], None] = print) -> None:
    """Server-side apply of every object (creates or updates), as field manager ``topicserve``."""
    appliers = _appliers(kube)
    unknown = sorted({obj["kind"] for obj in objects} - set(appliers))
    if unknown:
        raise InvalidInput(f"cannot apply kinds {unknown}; supported: {sorted(appliers)}")
    from topicserve.k8s import schema

    for obj in objects:
        if obj["kind"] == "RayService":
            schema.validate(obj)  # offline, before anything reaches the cluster
    if any(obj["kind"] == "RayService" for obj in objects):
        ensure_crd(kube)
    kwargs: dict[str, Any] = {
        "field_manager": FIELD_MANAGER,
        "force": True,
        "_content_type": APPLY_PATCH,
        "_request_timeout": 60,
    }
    if dry_run:
        kwargs["dry_run"] = "All"
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        body = {**obj, "metadata": {**obj["metadata"], "namespace": kube.namespace}}
        apply_one = appliers[kind]
        _call(kube, f"applying {kind} {name}", partial(apply_one, name, body, kwargs))
        suffix = " (server dry run)" if dry_run else ""
        out(f"{kind.lower()}/{name} applied in namespace {kube.namespace} (context {kube.context}){suffix}")


# ---- status --------------------------------------------------------------------------------
def _apps(obj: dict) -> dict[str, dict]:
    """Application statuses, pending cluster first so the active one wins on a name clash."""
    status = obj.get("status") or {}
    apps: dict[str, dict] = {}
    for key in ("pendingServiceStatus", "activeServiceStatus"):
        apps.update((status.get(key) or {}).get("applicationStatuses") or {})
    return apps


def _expected_apps(obj: dict) -> set[str]:
    try:
        config = yaml.safe_load(obj.get("spec", {}).get("serveConfigV2") or "") or {}
    except yaml.YAMLError:
        return set()
    return {app.get("name", "default") for app in config.get("applications", [])}


def summarize(obj: dict) -> str:
    status = obj.get("status") or {}
    apps = _apps(obj)
    parts = [f"{name}={app.get('status', '?')}" for name, app in sorted(apps.items())] or ["no applications yet"]
    service = status.get("serviceStatus")
    if service:
        parts.append(f"service={service}")
    return ", ".join(parts)


def failure(obj: dict) -> str | None:
    """The (redacted) report of a DEPLOY_FAILED application, or None."""
    for name, app in sorted(_apps(obj).items()):
        if app.get("status") == "DEPLOY_FAILED":
            lines = [f"application {name} DEPLOY_FAILED:", app.get("message") or "(no message)"]
            for dep, dstatus in sorted((app.get("serveDeploymentStatuses") or {}).items()):
                if dstatus.get("message"):
                    lines.append(f"  {dep} {dstatus.get('status', '')}: {dstatus['message']}")
            return redact("\n".join(lines))
    return None


def is_running(obj: dict) -> bool:
    """The operator has seen the latest spec, no upgrade is pending, every application RUNNING."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    observed, generation = status.get("observedGeneration"), meta.get("generation")
    if observed is not None and generation is not None and observed < generation:
        return False
    if (status.get("pendingServiceStatus") or {}).get("rayClusterName"):
        return False  # a new RayCluster is being prepared (rayClusterConfig changed)
    active = (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
    expected = _expected_apps(obj) or set(active)
    return bool(expected) and all(active.get(name, {}).get("status") == "RUNNING" for name in expected)


def endpoint(name: str, namespace: str) -> str:
    return f"http://{name}-serve-svc.{namespace}.svc.cluster.local:8000"


def wait_running(
    kube: Kube,
    name: str,
    *,
    timeout_s: float = 900,
    poll_s: float = 5,
    out: Callable[[str], None] = print,
) -> dict:
    """Poll the RayService until its applications are RUNNING; raise on DEPLOY_FAILED or timeout."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    ensure_crd(kube)
    api = client.CustomObjectsApi(kube.api)
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        try:
            got = api.get_namespaced_custom_object(GROUP, VERSION, kube.namespace, PLURAL, name, _request_timeout=30)
            obj = cast(dict, got)  # the client types it `object`; it is the CR's JSON as a dict
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(
                    f"RayService {name!r} not found in namespace {kube.namespace!r} (context {kube.context!r}); "
                    "create it with `make k8s-apply`."
                ) from None
            raise _translate(exc, kube, f"reading RayService {name}") from None
        except (HTTPError, OSError) as exc:
            raise _translate(exc, kube, f"reading RayService {name}") from None
        summary = redact(summarize(obj))
        if summary != last:
            out(f"rayservice/{name}: {summary}")
            last = summary
        report = failure(obj)
        if report:
            raise UpstreamError(f"{report}\n{PREFLIGHT_HINT}")
        if is_running(obj):
            url = endpoint(name, kube.namespace)
            out(
                f"\n{name} is RUNNING in namespace {kube.namespace}\n"
                f"  in-cluster: {url}\n"
                f"  from here:  kubectl -n {kube.namespace} port-forward svc/{name}-serve-svc 8000:8000\n"
                "              then http://127.0.0.1:8000/readyz and http://127.0.0.1:8000/docs"
            )
            return obj
        if time.monotonic() >= deadline:
            raise NotReady(
                f"RayService {name!r} not RUNNING after {timeout_s:.0f}s (last: {summary}); "
                f"see `kubectl -n {kube.namespace} describe rayservice {name}` and the head pod's logs."
            )
        time.sleep(poll_s)
