# The store's S3 tests run moto's server (tests/unit/store/test_store_s3.py) from its own venv: botocore
# pins python-dateutil<3 and the main lock has 4.x, so moto cannot live in .venv.
# `make moto-venv` builds .venv-moto from requirements-moto.lock; the test targets depend on it.
MOTO_VENV := .venv-moto
MOTO_STAMP := $(MOTO_VENV)/.installed

.PHONY: moto-venv bench-store

$(MOTO_STAMP): requirements-moto.lock
	mk/install-venv.sh $(MOTO_VENV) requirements-moto.lock
	touch $(MOTO_STAMP)

moto-venv: $(MOTO_STAMP)

test test-unit test-e2e: moto-venv

# 1M random 384-d vectors, index, latency/recall/RSS (bench/results/); BENCH_ROWS=200000 for a quicker run.
BENCH_ROWS ?= 1000000
bench-store: $(STAMP)
	nice $(PY) bench/store_search.py --rows $(BENCH_ROWS)
