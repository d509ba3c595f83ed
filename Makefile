# AlexNet Lab. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
# A PyTorch build from download.pytorch.org instead of PyPI's: cpu (no CUDA libraries,
# about 4.5 GB less), or a CUDA version such as cu126 for an older driver. Empty: PyPI's.
TORCH ?=
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help install train test test-gpu test-all bench bench-gpu gpu-wheels gpu-check claims report data lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# What a user needs: train, sweep (Optuna, launchers) and export (ONNX).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/pip install --quiet torch torchvision --index-url https://download.pytorch.org/whl/$(TORCH))
	$(BIN)/pip install --quiet -e '.[sweep,export]'
	touch $(STAMP)

# What a contributor adds: pytest, ruff and the other extras the tests use.
$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

install: $(STAMP) ## create .venv and install what training, sweeps and export need (TORCH=cpu: the CPU-only PyTorch)

train: $(STAMP) ## run train.py (the offline default); overrides in ARGS="model=alexnet_bn ..."
	$(BIN)/python train.py $(ARGS)

test: $(DEV_STAMP) ## the fast tests, one process per core (about 4 minutes on 2 cores)
	$(BIN)/python -m pytest -m "not slow" -n auto $(ARGS)

test-gpu: $(DEV_STAMP) ## on a GPU machine: the GPU tests (see ../shared/GPU.md for a lent one)
	$(BIN)/python -m pytest -m gpu $(ARGS)

bench-gpu: $(STAMP) ## on a GPU machine: throughput, MFU and the on-device epoch on CUDA
	$(BIN)/python experiments/benchmarks/gpu_throughput/bench_gpu.py
	$(BIN)/python experiments/benchmarks/small_dataset_epoch/bench_small_epoch.py  # on the GPU when there is one

# The packages a lent GPU machine (Python 3.12, no network, see ../shared/GPU.md) lacks,
# as wheels in .whl/ for experiments/gpu_check/gpu_check.sh to install there.
GPU_WHEELS := hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3 \
	pydantic==2.14.4 annotated-types==0.8.0 typing-inspection==0.4.5
gpu-wheels: $(STAMP) ## here: build the wheels a GPU machine without network needs (.whl/)
	$(BIN)/pip wheel -q --no-deps -w .whl $(GPU_WHEELS)
	$(BIN)/pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux_2_17_x86_64 -d .whl pydantic-core==2.50.5

gpu-check: ## on a GPU machine: every GPU path and benchmark, logs in $$OUT (at most 8 min)
	bash experiments/gpu_check/gpu_check.sh

# The slow tests that time nothing and share nothing run on every core; the others
# (signals, kill -9, DDP, benchmarks) one at a time.
test-all: test ## every test: the fast ones, then the slow real-process ones (DDP, signals, sweeps, PostgreSQL, benchmarks)
	$(BIN)/python -m pytest -m "slow and beside_others" -n auto $(ARGS)
	$(BIN)/python -m pytest -m "slow and not beside_others" --durations=20 $(ARGS)

bench: $(STAMP) ## run the CPU benchmarks (experiments/benchmarks/, ~30 min on 2 cores)
	$(BIN)/python experiments/benchmarks/startup/bench_startup.py
	$(BIN)/python experiments/benchmarks/overhead/bench_overhead.py
	$(BIN)/python experiments/benchmarks/small_dataset_epoch/bench_small_epoch.py
	$(BIN)/python experiments/benchmarks/data_loading/bench_loading.py
	$(BIN)/python experiments/benchmarks/out_of_the_box/bench_out_of_the_box.py  # needs Fashion-MNIST: make data
	$(BIN)/python experiments/benchmarks/prepared_data/bench_prepared.py  # needs apt-get install plasma-workspace-wallpapers

CLAIMS ?= full
claims: $(STAMP) ## the paper's claims study (CLAIMS=quick: every claim on digits, minutes)
	$(BIN)/python experiments/paper_claims/run_claims.py --mode $(CLAIMS)

data: ## install Fashion-MNIST (Debian/Ubuntu: apt-get install dataset-fashion-mnist)
	@test -d /usr/share/datasets/fashion-mnist || (apt-get install -y dataset-fashion-mnist 2>/dev/null || sudo apt-get install -y dataset-fashion-mnist)

report: $(STAMP) ## compare runs: make report RUNS="logs/train/multiruns/<sweep>" (table + PNG)
	$(BIN)/python -m alexnet.report $(RUNS) $(ARGS)

lint: $(DEV_STAMP) ## check style and common bugs with ruff
	$(BIN)/ruff check src tests experiments *.py
	$(BIN)/ruff format --check src tests experiments *.py

format: $(DEV_STAMP) ## format and auto-fix with ruff
	$(BIN)/ruff format src tests experiments *.py
	$(BIN)/ruff check --fix src tests experiments *.py

clean: ## remove run outputs and caches (keeps .venv and data/)
	rm -rf logs .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
