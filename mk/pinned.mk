# Pinned deploys: `make pin` (working_dir -> archive URL of HEAD), `make preflight` (check a config
# outside Ray), `make reprex` (rebuild the reprex notebooks from reprex/build.py).
# Extra arguments: make preflight ARGS="k8s/serve_config.yaml --json --env-freeze image.txt --target k8s"
.PHONY: pin preflight reprex

pin: $(STAMP)
	$(PY) -m topicserve pin $(ARGS)

preflight: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m topicserve preflight $(ARGS)

reprex: $(STAMP)
	$(PY) reprex/build.py
