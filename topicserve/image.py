"""Build-time prunes of the torch-free image (Dockerfile target cpu-slim), shared with bench/footprint.py.

    python -m topicserve.image bake OUT                     # builder stage (torch): the artifact, into OUT
    python -m topicserve.image prune-slim SITE_PACKAGES     # after `pip install --no-deps -r requirements-slim.lock`

``bake`` exports and quantizes the model (settings' model and int8 recipe) and writes into OUT only
what onnx-int8 reads: the int8 file, the gate's fp32 reference vectors and meta.json, keyed by the
model folder as the slim image ships it, without its torch weights (onnx.artifact_dir hashes every
file of the model folder). ``prune-slim`` runs in the slim venv, with TOPICSERVE_ONNX_CACHE_DIR =
OUT. Each prune is one the service cannot notice (docs/performance.md, "Footprint", sizes each):

- the model's torch weights (``model.safetensors``, ...): the int8 artifact replaces them; what
  would need them (the torch backend, a new export) needs torch, and refuses without it.
- ELF symbol tables (``strip --strip-unneeded``; the dynamic symbols that linking needs stay):
  pyarrow's and Ray's libraries and binaries ship unstripped. Libraries that auditwheel vendored
  (``*.libs/``, rewritten by patchelf) are left alone: strip after patchelf can corrupt them.
- Ray's Java jars (``ray/jars``): only for cross-language (Java) workers, which topicserve has none of.
- transformers' model folders the serving path does not import: the image serves one model, whose
  tokenizer is all that transformers is used for there (the torch-only paths refuse without torch).
  Which folders are kept is measured, not listed: the Embedder is loaded and run first, and every
  ``transformers.models.<name>`` then imported is kept; the Embedder is loaded again afterwards.

Bytecode (``__pycache__``) is kept: compiled at install, so a cold replica does not compile.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
# The torch/flax/tf weight files of a Hugging Face model folder.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ot")


def model_folder() -> Path:
    from topicserve.embedding import model_directory
    from topicserve.settings import get_settings

    return model_directory(get_settings().embedding_model)


def drop_weights(model_dir: Path) -> int:
    """Remove the torch weights from ``model_dir``; bytes removed."""
    weights = [p for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES]
    saved = sum(p.stat().st_size for p in weights)
    for path in weights:
        path.unlink()
    return saved


def bake(out: Path) -> Path:
    """Export + quantize (with torch), then the int8 artifact alone into ``out``, keyed for the weightless folder."""
    from topicserve.embedding import Embedder
    from topicserve.embedding.onnx import OnnxBackend, artifact_dir
    from topicserve.settings import get_settings

    model = Embedder(get_settings().embedding_model, "cpu", backend="onnx-int8")
    assert isinstance(model.backend, OnnxBackend)
    artifact = model.backend.path
    with tempfile.TemporaryDirectory() as tmp:
        shipped = Path(tmp) / "model"
        shutil.copytree(model_folder(), shipped)
        drop_weights(shipped)
        target = artifact_dir(shipped, out)
    target.mkdir(parents=True, exist_ok=True)
    for name in (artifact.name, "reference.npy", "meta.json"):
        shutil.copy2(artifact.parent / name, target / name)
    print(f"baked {artifact.name} (gate {model.agreement:.4f}) into {target}")
    return target


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == ELF_MAGIC


def strip_elf(site: Path) -> int:
    """``strip --strip-unneeded`` every ELF file outside auditwheel's ``*.libs`` folders; bytes saved."""
    files = (p for p in site.rglob("*") if p.is_file() and not p.is_symlink())
    targets = [p for p in files if not any(part.endswith(".libs") for part in p.parts) and is_elf(p)]
    before = sum(p.stat().st_size for p in targets)
    for start in range(0, len(targets), 200):
        subprocess.run(["strip", "--strip-unneeded", *map(str, targets[start : start + 200])], check=True)
    return before - sum(p.stat().st_size for p in targets)


def serving_path() -> set[str]:
    """Load and run the Embedder as a replica does; the transformers model packages that imported."""
    from topicserve.embedding import Embedder
    from topicserve.embedding.onnx import OnnxBackend
    from topicserve.settings import get_settings

    model = Embedder(get_settings().embedding_model)
    if (
        not isinstance(model.backend, OnnxBackend)
        or model.backend.exported
        or model.embed(["ok", "a longer sentence " * 200]).shape[0] != 2
    ):
        raise SystemExit(f"the baked ONNX artifact was not used or does not embed: {model.info()}")
    return {name.split(".")[2] for name in sys.modules if name.startswith("transformers.models.")}


def prune_transformers_models(site: Path, keep: set[str]) -> int:
    models = site / "transformers" / "models"
    saved = 0
    for folder in sorted(p for p in models.iterdir() if p.is_dir() and p.name not in keep | {"__pycache__"}):
        saved += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder)
    return saved


def prune_slim(site: Path) -> dict[str, int]:
    """Every prune above, on ``site``; bytes each saved."""
    jars = site / "ray" / "jars"
    saved = {"ray_jars": sum(f.stat().st_size for f in jars.rglob("*") if f.is_file()) if jars.exists() else 0}
    shutil.rmtree(jars, ignore_errors=True)
    saved["strip"] = strip_elf(site)
    saved["model_weights"] = drop_weights(model_folder())
    saved["transformers_models"] = prune_transformers_models(site, serving_path())
    # A fresh process: the service path still works on what is left.
    subprocess.run([sys.executable, "-c", "from topicserve.image import serving_path; serving_path()"], check=True)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m topicserve.image", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["bake", "prune-slim"])
    parser.add_argument(
        "path", type=Path, help="bake: the artifact folder to write; prune-slim: the venv's site-packages"
    )
    args = parser.parse_args(argv)
    if args.command == "bake":
        bake(args.path)
        return 0
    saved = prune_slim(args.path)
    print(" ".join(f"{k}={v / 1e6:.0f}MB" for k, v in saved.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
