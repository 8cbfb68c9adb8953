# Speed: every peer back to back, ratios as the headline (docs/performance.md).
BENCH_ARGS ?=

.PHONY: bench bench-raw

bench: $(STAMP)  ## raw torch/onnx/int8, Infinity, the service per Embedder size, int8 quality -> bench/results/
	HF_HUB_OFFLINE=1 $(PY) -m bench $(BENCH_ARGS)

bench-raw: $(STAMP)  ## in-process peers and Infinity only (no Ray)
	HF_HUB_OFFLINE=1 $(PY) -m bench --parts raw,infinity $(BENCH_ARGS)
