# Topic quality: the demo-set evaluation and the AG News benchmark (docs/quality.md).
AG_NEWS ?= ../shared/data/ag_news_test.jsonl

.PHONY: evaluate-demo bench-agnews bench-agnews-service

evaluate-demo: $(STAMP)  ## vibe check + metrics on the art demo set, against the first taxonomy
	HF_HUB_OFFLINE=1 $(PY) -m topicserve evaluate topicserve/data/eval_demo.jsonl --against bench/art_v1_config.yaml --out build/eval_demo.html

bench-agnews: $(STAMP)  ## AG News zero-shot accuracy, in-process, with each label representation
	HF_HUB_OFFLINE=1 $(PY) bench/ag_news.py $(AG_NEWS) --split test --variants

bench-agnews-service: $(STAMP)  ## the same through a running service's /topics (make run first)
	HF_HUB_OFFLINE=1 $(PY) bench/ag_news.py $(AG_NEWS) --split test --url http://127.0.0.1:8000 --service-only
