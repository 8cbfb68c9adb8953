"""`preflight`: do what Ray will do with a Serve config, outside Ray, and say what will fail and why.

Per application: download ``working_dir`` as Ray's runtime-env agent does (same credential
sources), unpack it stripping the top folder as Ray does, resolve ``import_path`` in a fresh
interpreter laid out like a Ray worker, compare the deployments named in the config with those
the app builds, and check GPU and custom-resource requests against the target (a running cluster
with ``--address``, else the k8s manifests or this machine). Once per config: Ray's own schema
(when Ray is importable here), the lock against an environment, and credentials in the config.

Exit status: 0 no errors (warnings allowed), 1 a problem found, 2 unusable arguments.
Every printed line goes through ``redact`` with every credential preflight has seen.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from topicserve.gitarchive import git
from topicserve.preflight.deps import compare, freeze_environment, interpreter_environment
from topicserve.preflight.diagnosis import diagnose_download, secret_findings
from topicserve.preflight.fetch import download, root_listing, unpack
from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding
from topicserve.preflight.gpu import check_gpus, gpu_needs, k8s_groups
from topicserve.preflight.importcheck import check_import
from topicserve.preflight.resources import check_resources, resource_needs
from topicserve.redact import redact, url_secrets


@dataclass
class Report:
    config: str
    target: str
    address: str | None = None  # a running cluster's dashboard, to check custom resources against
    findings: list[Finding] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)  # app -> unpacked root (when kept)

    @property
    def errors(self) -> int:
        return sum(f.level == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == WARNING for f in self.findings)

    def lines(self) -> list[str]:
        head = f"preflight {self.config} (target: {self.target})"
        tail = f"{self.errors} error(s), {self.warnings} warning(s)" + (" - ready to deploy" if not self.errors else "")
        return [redact(line, self.secrets) for line in [head, *(f.line() for f in self.findings), tail]]

    def to_json(self) -> str:
        body = {
            "config": self.config,
            "target": self.target,
            "ok": self.errors == 0,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }
        return redact(json.dumps(body, indent=2), self.secrets)


def schema_findings(config: dict) -> list[Finding]:
    """Ray's own validation (ray.serve.schema.ServeDeploySchema), when Ray is importable here."""
    try:
        from ray.serve.schema import ServeDeploySchema
    except Exception as exc:  # Ray-free environments: structural checks only
        return [Finding(INFO, "config", f"ray not importable here ({type(exc).__name__}): Ray's schema not checked")]
    try:
        ServeDeploySchema.model_validate(config)
    except Exception as exc:
        errors = exc.errors() if hasattr(exc, "errors") else [{"loc": (), "msg": str(exc)}]
        return [
            Finding(ERROR, "config", f"{'.'.join(map(str, e['loc']))}: {e['msg']}", "fix the Serve config")
            for e in errors
        ]
    return [Finding(OK, "config", "valid for Ray's ServeDeploySchema")]


def deployment_findings(app_cfg: dict, built: list[dict], app: str) -> list[Finding]:
    have = [d["name"] for d in built]
    out = []
    for dep in app_cfg.get("deployments") or []:
        if dep.get("name") not in have:
            out.append(
                Finding(
                    ERROR,
                    "deployments",
                    f"deployment {dep.get('name')!r} is in the config but not in the app (the app builds: "
                    f"{', '.join(have)}); Ray fails the deploy on it",
                    "use the name given in @serve.deployment(name=...) or drop the entry",
                    app,
                )
            )
    if not out:
        out.append(Finding(OK, "deployments", f"all {len(app_cfg.get('deployments') or [])} configured exist", app=app))
    return out + single_writer_findings(app_cfg, app)


# topicserve's State deployment is the single writer of the store: two replicas would diverge.
SINGLE_WRITER = "State"


def single_writer_findings(app_cfg: dict, app: str) -> list[Finding]:
    dep = next((d for d in app_cfg.get("deployments") or [] if d.get("name") == SINGLE_WRITER), None)
    if dep is None:
        return []
    replicas = dep.get("num_replicas", 1)
    if dep.get("autoscaling_config") or replicas not in (1, None):
        return [
            Finding(
                ERROR,
                "deployments",
                f"{SINGLE_WRITER} is the single writer of the store but is configured with "
                f"{'autoscaling' if dep.get('autoscaling_config') else f'num_replicas: {replicas}'}: "
                "replicas would each write their own copy and diverge",
                f"set num_replicas: 1 and no autoscaling_config for {SINGLE_WRITER}; scale Ingress instead",
                app,
            )
        ]
    return []


def checkout_of(path: Path) -> Path | None:
    top = git(path.parent, "rev-parse", "--show-toplevel", check=False)
    return Path(top) if top else None


def check_application(
    app_cfg: dict, report: Report, work: Path, *, root: Path, checkout: Path | None, python: str, timeout: float
) -> None:
    name = app_cfg.get("name", "default")
    env = app_cfg.get("runtime_env") or {}
    url = env.get("working_dir") or ""
    report.secrets += url_secrets(url)
    report.findings += secret_findings(url, env.get("env_vars") or {}, name)
    if not url:
        report.findings.append(
            Finding(
                ERROR, "download", "no runtime_env.working_dir: the cluster has no code to import", "`make pin`", name
            )
        )
        return
    dl = download(url, work / name / "download", timeout=timeout)
    report.secrets += dl.credentials.secrets if dl.credentials else []
    report.findings += diagnose_download(dl, name, checkout, timeout)
    if not dl.ok or dl.path is None:
        report.findings.append(Finding(INFO, "import", "not checked: nothing downloaded", app=name))
        report.findings += placement_findings(app_cfg, None, report, root, name)
        return
    try:
        unpacked, top = unpack(dl.path, work / name / "working_dir")
    except Exception as exc:
        report.findings.append(Finding(ERROR, "unpack", f"cannot unpack: {type(exc).__name__}: {exc}", app=name))
        return
    report.roots[name] = str(unpacked)
    stripped = f"top folder {top}/ stripped" if top else "no single top folder: files kept as they are"
    report.findings.append(Finding(OK, "unpack", f"{stripped}; root holds {root_listing(unpacked)}", app=name))
    result = check_import(
        unpacked,
        app_cfg.get("import_path", ""),
        app=name,
        env_vars=env.get("env_vars"),
        args=app_cfg.get("args"),
        python=python,
        checkout=checkout,
    )
    report.findings += result.findings
    if result.deployments is None:
        report.findings.append(Finding(INFO, "deployments", "not checked: the app did not build", app=name))
    else:
        report.findings += deployment_findings(app_cfg, result.deployments, name)
    report.findings += placement_findings(app_cfg, result.deployments, report, root, name)


def placement_findings(app_cfg: dict, built: list[dict] | None, report: Report, root: Path, app: str) -> list[Finding]:
    """Can the target place every replica: the GPUs and the custom resources it asks for?"""
    deployments = app_cfg.get("deployments") or []
    out = check_gpus(gpu_needs(deployments, built), report.target, root, app)
    try:
        return out + check_resources(resource_needs(deployments, built), report.target, root, report.address, app)
    except Exception as exc:  # an unreachable --address: say so, do not crash the whole report
        return [
            *out,
            Finding(ERROR, "resources", f"cannot list the nodes at {report.address}: {type(exc).__name__}", app=app),
        ]


def run_preflight(
    config_path: Path,
    *,
    target: str = "auto",
    env_freeze: Path | None = None,
    python: str = sys.executable,
    timeout: float = 60,
    keep: Path | None = None,
    address: str | None = None,
) -> Report:
    config_path = Path(config_path)
    config = yaml.safe_load(config_path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} is not a YAML mapping")
    checkout = checkout_of(config_path.resolve())
    root = checkout or config_path.resolve().parent
    if target == "auto":
        target = "k8s" if k8s_groups(root) else "local"
    report = Report(str(config_path), target, address)
    report.findings += schema_findings(config)
    with tempfile.TemporaryDirectory(prefix="preflight-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        for app_cfg in config.get("applications") or []:
            check_application(app_cfg, report, work, root=root, checkout=checkout, python=python, timeout=timeout)
    lock = root / "requirements.lock"
    if lock.exists():
        env = freeze_environment(env_freeze) if env_freeze else interpreter_environment(python)
        report.findings += compare(lock.read_text(), env)
    else:
        report.findings.append(Finding(INFO, "dependencies", f"no requirements.lock in {root}: not checked"))
    return report


def preflight(args) -> int:
    config = Path(args.config)
    if not config.is_file():
        print(f"error: config {config} not found", file=sys.stderr)
        return 2
    if args.env_freeze and not Path(args.env_freeze).is_file():
        print(f"error: --env-freeze {args.env_freeze} not found", file=sys.stderr)
        return 2
    try:
        report = run_preflight(
            config,
            target=args.target,
            env_freeze=Path(args.env_freeze) if args.env_freeze else None,
            python=args.python,
            timeout=args.timeout,
            keep=Path(args.keep) if args.keep else None,
            address=args.address,
        )
    except (yaml.YAMLError, ValueError) as exc:
        print(f"error: cannot read {config}: {redact(str(exc))}", file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
    else:
        print("\n".join(report.lines()))
    return 1 if report.errors else 0


def register(sub) -> None:
    p = sub.add_parser("preflight", help="check a Serve config the way Ray will use it, outside Ray")
    p.add_argument("config", nargs="?", default="serve_config.yaml")
    p.add_argument("--json", action="store_true", help="machine-readable findings")
    p.add_argument("--env-freeze", help="`pip freeze` of the cluster image (first line may be `python -V`)")
    p.add_argument("--target", choices=["auto", "local", "k8s"], default="auto", help="where GPUs are checked")
    p.add_argument("--python", default=sys.executable, help="interpreter for the import check and dependencies")
    p.add_argument("--timeout", type=float, default=60, help="download timeout in seconds (Ray: 60)")
    p.add_argument("--keep", help="unpack into this folder and keep it")
    p.add_argument("--address", help="a running cluster's dashboard (http://HEAD:8265): check its resources")
    p.set_defaults(func=preflight)
