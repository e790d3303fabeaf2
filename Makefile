# empathy: two commands on a fresh machine.
#   make demo   set up .venv, then run the whole KFP pipeline locally on the demo corpus
#   make test   set up .venv, then run the test suite
# Everything else: `make help`.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
EMPATHY := $(VENV)/bin/empathy
STAMP := $(VENV)/.synced
IMAGE_REPO ?= ghcr.io/empathy-mlops
IMAGE_TAG ?= 0.1.0

.PHONY: help venv demo test redis-server bench test-unit test-integration test-pipeline test-manifests test-images \
        pipelines manifests lock images clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

$(STAMP): requirements.lock pyproject.toml scripts/setup_venv.sh
	bash scripts/setup_venv.sh
	touch $@

venv: $(STAMP)  ## create or refresh .venv from requirements.lock (uv, CPU torch)

demo: $(STAMP)  ## run the training pipeline locally on the demo corpus; outputs in runs/demo/
	$(EMPATHY) pipeline run --local --config configs/pipeline/demo.yaml --output-dir runs/demo

test: $(STAMP) redis-server  ## the whole test suite (what CI runs)
	$(PY) -m pytest

test-unit: $(STAMP)  ## fast tests, no services
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) redis-server  ## tests against real local services (MLflow, KServe server, Evidently)
	$(PY) -m pytest tests/integration

test-pipeline: $(STAMP)  ## compile round-trip and a local pipeline run
	$(PY) -m pytest tests/pipeline

test-manifests: $(STAMP)  ## render and validate the Kubernetes manifests
	$(PY) -m pytest -m manifests tests/manifests

test-images: $(STAMP)  ## check the Dockerfiles
	$(PY) -m pytest tests/images

bench: $(STAMP)  ## training throughput and serving latency of the tiny model (numbers in docs/benchmarks.md)
	$(PY) benchmarks/bench.py --out runs/bench

# Integration tests start redis-server on loopback; on a fresh machine (CI runs as root) install it. A failure is
# tolerated: those tests then skip and say how to install it.
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server) \
	  || echo "make: could not install redis-server; the Redis integration tests will skip" >&2

pipelines: $(STAMP)  ## recompile pipelines/training_pipeline.yaml from configs/pipeline/cluster.yaml
	$(EMPATHY) pipeline compile --config configs/pipeline/cluster.yaml --output pipelines/training_pipeline.yaml

manifests:  ## render kustomize/overlays/<env> into manifests/<env>/resources.yaml
	bash scripts/render_manifests.sh

lock:  ## re-resolve requirements.lock from pyproject.toml (CPU torch)
	uv pip compile pyproject.toml --extra test --python 3.11 \
	  $$(f=$$(python3 -m pip config get global.find-links 2>/dev/null) && echo --find-links $$f || \
	     echo --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match) \
	  -o requirements.lock

images:  ## build the container images (needs a Docker engine)
	docker build -f images/base/Dockerfile -t $(IMAGE_REPO)/empathy:$(IMAGE_TAG) .
	docker build -f images/train/Dockerfile -t $(IMAGE_REPO)/empathy-train:$(IMAGE_TAG) .
	docker build -f images/serve/Dockerfile --build-arg BASE_IMAGE=$(IMAGE_REPO)/empathy:$(IMAGE_TAG) \
	  -t $(IMAGE_REPO)/empathy-serve:$(IMAGE_TAG) .

clean:  ## remove run outputs (keeps .venv)
	rm -rf runs .pytest_cache
