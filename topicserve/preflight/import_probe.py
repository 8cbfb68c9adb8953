"""Resolve a Serve ``import_path`` the way Ray's build task does, in an interpreter laid out like a worker.

Not imported by topicserve: ``topicserve.preflight.importcheck`` runs this file's source with ``python -c``
in a fresh process whose cwd is the unpacked working_dir and whose PYTHONPATH starts with it (what
Ray's working_dir plugin sets). It must not import topicserve itself (the package under test may
be a different copy of it). Prints one line ``PROBE_RESULT {json}``.

Steps, as in ray.serve._private.application_state.build_serve_application:
``import_attr(import_path)`` (ray._common.utils: ``module:attr`` with at most one colon, else split
on the last dot), then ``call_user_app_builder_with_args_if_necessary(obj, args)``, then
``build_app(app, name=...)``, which lists the deployments. Without Ray the import uses the same
parsing with importlib, and the Application check falls back to the class name.
"""

import importlib
import json
import os
import sys
import traceback

MARKER = "PROBE_RESULT "


def split_import_path(path):
    if ":" in path:
        if path.count(":") > 1:
            raise ValueError(f'Got invalid import path "{path}". An import path may have at most one colon.')
        module_name, attr_name = path.split(":")
    else:
        last = path.rfind(".")
        module_name, attr_name = path[:last], path[last + 1 :]
    return module_name, attr_name


def origin(name):
    module = sys.modules.get(name)
    if module is None:
        return None
    return {
        "name": name,
        "file": getattr(module, "__file__", None),
        "path": [str(p) for p in getattr(module, "__path__", []) or []],
    }


def walk_without_build_app(app):
    found, stack, seen = [], [app], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        dep = node._bound_deployment
        found.append({"name": dep.name, "ray_actor_options": dict(dep.ray_actor_options or {})})
        nested = list(dep.init_args) + list(dep.init_kwargs.values())
        while nested:
            item = nested.pop()
            if type(item).__name__ == "Application" and hasattr(item, "_bound_deployment"):
                stack.append(item)
            elif isinstance(item, list | tuple | set):
                nested.extend(item)
            elif isinstance(item, dict):
                nested.extend(item.values())
    return found


def main():
    spec = json.loads(sys.argv[1])
    out = {"ray": None, "cwd": os.getcwd(), "sys_path": [], "error": None, "deployments": None}
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # `python -c` adds cwd; a worker does not
    out["sys_path"] = sys.path[:6]
    try:
        import ray  # a Ray worker has imported ray before it runs user code

        out["ray"] = ray.__version__
    except Exception as exc:
        out["ray_error"] = f"{type(exc).__name__}: {exc}"
    obj = import_app(spec["import_path"], out)
    parts = out.get("module", "").split(".") if out.get("module") else []
    out["modules"] = [origin(".".join(parts[: i + 1])) for i in range(len(parts))]
    if out["error"] is None:
        out["attr_type"] = f"{type(obj).__module__}.{type(obj).__qualname__}"
        try:
            out["deployments"] = build_deployments(obj, spec, out)
        except BaseException as exc:
            out["error"] = error_record("build", exc, name=None)
    print(MARKER + json.dumps(out, default=str), flush=True)


def error_record(stage, exc, name):
    return {
        "stage": stage,
        "type": type(exc).__name__,
        "message": str(exc),
        "name": name,
        "traceback": traceback.format_exc(limit=-6),
    }


def import_app(path, out):
    """Ray's import_attr (importlib without Ray); on failure records the error and returns None."""
    try:
        module_name, attr_name = split_import_path(path)
        out["module"], out["attr"] = module_name, attr_name
        if out["ray"]:
            from ray._common.utils import import_attr

            return import_attr(path)
        return getattr(importlib.import_module(module_name), attr_name)
    except BaseException as exc:
        out["error"] = error_record("import", exc, name=getattr(exc, "name", None))
        module = sys.modules.get(out.get("module") or "")
        if module is not None:  # imported, but the attribute is missing: list what it does hold
            out["candidates"] = sorted(
                k for k, v in vars(module).items() if type(v).__name__ == "Application" and not k.startswith("_")
            )
        return None


def build_deployments(obj, spec, out):
    """The deployments of the application ``obj`` is (or builds), as Serve's build step lists them."""
    if not out["ray"]:
        if any(cls.__name__ == "Application" for cls in type(obj).__mro__):
            return walk_without_build_app(obj)
        raise TypeError(f"Expected a built Serve application or an application builder but got: {type(obj)}.")
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary

    app = call_user_app_builder_with_args_if_necessary(obj, spec.get("args") or {})
    try:
        from ray.serve._private.build_app import build_app

        built = build_app(app, name=spec.get("name") or "default")
    except ImportError:  # an older Ray without build_app
        return walk_without_build_app(app)
    out["ingress"] = built.ingress_deployment_name
    return [{"name": d.name, "ray_actor_options": dict(d.ray_actor_options or {})} for d in built.deployments]


if __name__ == "__main__":
    main()
