# KubeRay: `make k8s-render|k8s-apply|k8s-status|k8s-sync` (docs/k8s.md), images for the RayService.
# K8S_OVERLAY=dev|prod (default dev); K8S_ARGS passes more flags, e.g. K8S_ARGS="--working-dir URL".
K8S_OVERLAY ?= dev
K8S_ARGS ?=
K8S_RAY_VERSION = $(shell sed -n 's/^ray==//p' requirements.lock)
K8S_IMAGE ?= topicserve

.PHONY: k8s-render k8s-apply k8s-status k8s-sync k8s-image-cpu k8s-image-gpu k8s-image-cpu-slim

k8s-render: $(STAMP)
	$(PY) -m topicserve k8s render --overlay $(K8S_OVERLAY) $(K8S_ARGS)

k8s-apply: $(STAMP)
	$(PY) -m topicserve k8s apply --overlay $(K8S_OVERLAY) $(K8S_ARGS)

k8s-status: $(STAMP)
	$(PY) -m topicserve k8s status $(K8S_ARGS)

# Regenerate k8s/ (serveConfigV2, dev patch, rayVersion, image tags) and the Dockerfile's
# RAY_VERSION from serve_config.yaml and requirements.lock; unit tests fail until this is run.
k8s-sync: $(STAMP)
	$(PY) -m topicserve k8s sync

# Needs a Docker engine. Tags match what the overlays run (dev: topicserve:<ray>-cpu).
k8s-image-cpu:
	docker build --build-arg VARIANT=cpu -t $(K8S_IMAGE):$(K8S_RAY_VERSION)-cpu .

k8s-image-gpu:
	docker build --build-arg VARIANT=gpu -t $(K8S_IMAGE):$(K8S_RAY_VERSION)-gpu .

# The torch-free CPU image (onnx-int8 only, requirements-slim.lock): Dockerfile target cpu-slim.
k8s-image-cpu-slim:
	docker build --target cpu-slim -t $(K8S_IMAGE):$(K8S_RAY_VERSION)-cpu-slim .
