"""`python -m topicserve k8s render|apply|status|sync` (make k8s-render, k8s-apply, k8s-status, k8s-sync)."""

from __future__ import annotations

import sys
from pathlib import Path

from topicserve.errors import InvalidInput
from topicserve.k8s import kustomize
from topicserve.k8s.sync import ROOT, sync, with_working_dir


def overlay_dir(overlay: str) -> Path:
    """``dev`` / ``prod`` name an overlay under k8s/overlays; anything else is a directory."""
    named = ROOT / "k8s" / "overlays" / overlay
    path = named if named.is_dir() else Path(overlay)
    if not path.is_dir():
        raise InvalidInput(f"overlay {overlay!r} not found (k8s/overlays/{overlay} or a directory)", field="overlay")
    return path


def rendered(args) -> list[dict]:
    objects = kustomize.render(overlay_dir(args.overlay))
    if args.working_dir:
        objects = [with_working_dir(o, args.working_dir) if o["kind"] == "RayService" else o for o in objects]
    return objects


def cmd_render(args) -> int:
    sys.stdout.write(kustomize.dump_all(rendered(args)))
    return 0


def cmd_apply(args) -> int:
    from topicserve.k8s import cluster

    objects = rendered(args)
    kube = cluster.connect(args.namespace, args.context)
    cluster.apply(kube, objects, dry_run=args.dry_run)
    if args.wait and not args.dry_run:
        for obj in objects:
            if obj["kind"] == "RayService":
                cluster.wait_running(kube, obj["metadata"]["name"], timeout_s=args.timeout, poll_s=args.poll)
    return 0


def cmd_status(args) -> int:
    from topicserve.k8s import cluster

    kube = cluster.connect(args.namespace, args.context)
    cluster.wait_running(kube, args.name, timeout_s=args.timeout, poll_s=args.poll)
    return 0


def cmd_sync(args) -> int:
    stale = sync(check=args.check)
    for path in stale:
        print(f"{'out of date' if args.check else 'updated'}: {path}")
    if args.check and stale:
        print("run `make k8s-sync` and commit the result", file=sys.stderr)
        return 1
    if not stale:
        print("k8s/ and Dockerfile are in sync with serve_config.yaml and requirements.lock")
    return 0


def _cluster_args(p) -> None:
    p.add_argument("--namespace", "-n", help="default: the kube context's namespace")
    p.add_argument("--context", help="default: the current kube context")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for RUNNING")
    p.add_argument("--poll", type=float, default=5, help="seconds between status reads")


def _render_args(p) -> None:
    p.add_argument("--overlay", default="dev", help="dev | prod | a kustomization directory")
    p.add_argument("--working-dir", help="override every application's working_dir (e.g. a commit archive URL)")


def register(sub) -> None:
    k8s = sub.add_parser("k8s", help="KubeRay: render, apply and watch the RayService")
    ops = k8s.add_subparsers(dest="k8s_command", required=True)

    p = ops.add_parser("render", help="print the manifests of an overlay")
    _render_args(p)
    p.set_defaults(func=cmd_render)

    p = ops.add_parser("apply", help="server-side apply an overlay in the current kube context")
    _render_args(p)
    _cluster_args(p)
    p.add_argument("--dry-run", action="store_true", help="server-side dry run: validate, change nothing")
    p.add_argument("--wait", action="store_true", help="then wait like `status`")
    p.set_defaults(func=cmd_apply)

    p = ops.add_parser("status", help="wait until the RayService's applications are RUNNING, print the endpoint")
    p.add_argument("--name", default="topicserve", help="RayService name")
    _cluster_args(p)
    p.set_defaults(func=cmd_status)

    p = ops.add_parser("sync", help="regenerate k8s/ and the Dockerfile from serve_config.yaml and the lock")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    p.set_defaults(func=cmd_sync)
