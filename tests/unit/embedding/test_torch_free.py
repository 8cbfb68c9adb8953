"""The torch-free image's promise: with torch, sentence-transformers and onnx absent, the app's modules
import and the onnx-int8 Embedder serves from the baked artifact; what needs them refuses in one line.

The artifact is exported here first, with torch, and baked as the image's builder stage bakes it
(``topicserve.image.bake``: the int8 file, reference vectors and meta, no fp32 file, keyed for the
model folder without its torch weights); then a fresh Python, in which those three packages cannot
be imported (``sys.modules[name] = None``: every import of them raises ImportError), imports app.py
and builds the Embedder on that weightless model folder from the baked artifact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.support import ROOT
from topicserve.embedding import Embedder, model_directory
from topicserve.embedding.onnx import FP32_NAME
from topicserve.image import bake, drop_weights
from topicserve.settings import DEFAULT_MODEL, get_settings

TEXTS = ["The central bank raised interest rates again.", "A late goal won the cup.", "ok"]
BLOCKED = ("torch", "sentence_transformers", "onnx")

# Runs in the torch-free Python: argv = baked artifact dir, weightless model dir, full cache dir, empty dir, output.
PROBE = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
baked, weightless, cache, empty, out = sys.argv[1:6]
import app  # the Serve application: every module app.py and deployments/ import
from topicserve.embedding import Embedder
from topicserve.embedding.packages import BackendUnavailable
from topicserve.embedding.startup import import_backend_modules
from topicserve.settings import get_settings

def refusal(call):
    try:
        call()
    except BackendUnavailable as exc:
        return str(exc)
    except Exception as exc:
        return "WRONG " + type(exc).__name__ + ": " + str(exc)
    return None

model = Embedder(weightless, "auto", backend="onnx-int8", onnx_options={{"cache_dir": baked}})
import_backend_modules("onnx-int8")
result = {{
    "vectors": model.embed({texts!r}).tolist(),
    "device": model.device,
    "exported": model.backend.exported,
    "agreement": model.agreement,
    "app": type(app.app).__name__,
    "torch_backend": refusal(lambda: Embedder({model!r}, "auto", backend="torch")),
    "torch_imports": refusal(lambda: import_backend_modules("torch")),
    "export": refusal(lambda: Embedder({model!r}, "cpu", backend="onnx-int8", onnx_options={{"cache_dir": empty}})),
    # The other int8 recipe (reduce_range flipped) was not quantized: that needs onnx.
    "quantize": refusal(lambda: Embedder({model!r}, "cpu", backend="onnx-int8", onnx_options={{
        "cache_dir": cache, "reduce_range": not get_settings().onnx_reduce_range}})),
    "blocked": [sys.modules.get(name) is None for name in {blocked!r}],
}}
open(out, "w").write(json.dumps(result))
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache-torch-free")


@pytest.fixture(scope="module")
def with_torch(cache_dir) -> Embedder:
    """The int8 Embedder where torch is installed: it exports the artifact the torch-free Python loads."""
    return Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", onnx_options={"cache_dir": cache_dir})


@pytest.fixture(scope="module")
def baked(with_torch, cache_dir, tmp_path_factory):
    """What the builder stage bakes, from the export ``with_torch`` made (the same cache: no second export)."""
    out = tmp_path_factory.mktemp("baked")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOPICSERVE_ONNX_CACHE_DIR", str(cache_dir))
        get_settings.cache_clear()
        bake(out)
    get_settings.cache_clear()
    return out


@pytest.fixture(scope="module")
def torch_free(baked, cache_dir, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("torch-free")
    (tmp / "empty").mkdir()
    weightless = tmp / "model"  # the model folder as the slim image ships it
    shutil.copytree(model_directory(DEFAULT_MODEL), weightless)
    assert drop_weights(weightless) > 0
    code = PROBE.format(blocked=BLOCKED, model=DEFAULT_MODEL, texts=TEXTS)
    paths = [baked, weightless, cache_dir, tmp / "empty", tmp / "out.json"]
    args = [sys.executable, "-c", code, *map(str, paths)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((tmp / "out.json").read_text())


def test_the_baked_artifact_is_int8_alone(baked, with_torch):
    (key,) = baked.iterdir()
    assert sorted(p.name for p in key.iterdir()) == sorted([with_torch.backend.path.name, "meta.json", "reference.npy"])
    assert key.name != with_torch.backend.path.parent.name and not (key / FP32_NAME).exists()


def test_the_app_imports_and_int8_serves_without_torch(with_torch, torch_free):
    assert torch_free["blocked"] == [True] * len(BLOCKED)  # nothing put a real torch back
    assert torch_free["app"] == "Application"
    assert torch_free["device"] == "cpu" and not torch_free["exported"]  # "auto" is cpu; the cached artifact
    assert torch_free["agreement"] == pytest.approx(with_torch.agreement, abs=1e-6)  # the load gate ran
    assert np.allclose(np.array(torch_free["vectors"]), with_torch.embed(TEXTS), atol=1e-6)


@pytest.mark.parametrize(
    ("case", "package"),
    [("torch_backend", "torch"), ("torch_imports", "torch"), ("export", "torch"), ("quantize", "onnx")],
)
def test_what_needs_torch_or_onnx_refuses_in_one_line_naming_it(torch_free, case, package):
    message = torch_free[case]
    assert message is not None and not message.startswith("WRONG"), message
    assert f"needs the Python package {package}, which is not installed" in message
    assert "TOPICSERVE_EMBEDDING_BACKEND=onnx-int8" in message and "\n" not in message
