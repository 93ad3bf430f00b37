# Two entry points (see README): `make demo` and `make test`. Both create the virtual environment
# on first use, so each works on a fresh clone with only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
# torch==2.13.0 resolves to a local CPU build on these machines; a bare `torch` would pull several
# GB of CUDA packages. On a GPU machine (README, "On a GPU machine") take the CUDA build and the gpu
# extra: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu128 make test TORCH_SPEC="torch==2.13.0+cu128" EXTRAS=test,gpu
TORCH_SPEC ?= torch==2.13.0
# The package extras installed with it; `gpu` adds onnxruntime-gpu (ONNX exports on CUDA).
EXTRAS ?= test
WORKBENCH_HOME ?= $(HOME)/.workbench
# Compiled Numba kernels are cached on disk and reused between runs.
NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export WORKBENCH_HOME NUMBA_CACHE_DIR

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell echo '$(TORCH_SPEC)$(if $(filter-out test,$(EXTRAS)),-$(EXTRAS))' | tr -c 'A-Za-z0-9.\n' '_')

.PHONY: demo test setup policies clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
# onnxruntime and onnxruntime-gpu install the same module; with the gpu extra keep only the GPU build.
ifneq (,$(findstring gpu,$(EXTRAS)))
	$(BIN)/python -m pip uninstall --quiet -y onnxruntime
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps "onnxruntime-gpu>=1.18"
endif
	rm -f $(VENV)/.installed-*
	touch $@

# The demo: stored runs of the shipped policy (backtest, stress, sweep, walk-forward, review, a
# paper-trading replay), then the browser app on http://127.0.0.1:5006 (Ctrl+C stops it).
demo: $(STAMP)
	$(BIN)/workbench demo

# Retrain the shipped compact policies (reproducible: fixed seed, CPU): the symbol agent with the plan's PPO
# configuration on the 70/15/15 split of AAPL, MSFT and IBM (its card gets validation and test figures and the
# baselines on the test period), then the master agent over it, then the tactical team (MAPPO on
# synthetic-5min: train January to February 23, choose the best weights on February 26 to March 8, trade
# March 11-28 once as the held-out test), each exported to ONNX (its default runtime) with a parity report.
# Replaces the folders in assets/ and prints the wall time (docs/models.md).
POLICY_DIR := assets/policies/symbol-agent-compact-stocks
MASTER_DIR := assets/policies/master-agent-compact-stocks
TEAM_DIR := assets/policies/tactical-compact-synthetic5m
policies: $(STAMP)
	@started=$$(date +%s); set -e; \
	rm -rf $(POLICY_DIR); \
	$(BIN)/workbench train symbol-agent --preset compact --data stocks --symbols AAPL,MSFT,IBM \
		--timesteps 100000 --reward-weights hold=0.05 --seed 7 --device cpu --no-progress \
		--out $(POLICY_DIR); \
	$(BIN)/workbench export onnx $(POLICY_DIR) --out $(POLICY_DIR)/model.onnx; \
	rm -rf $(MASTER_DIR); \
	$(BIN)/workbench train master-agent --symbol-agent $(POLICY_DIR) --preset compact --data stocks \
		--symbols AAPL,MSFT,IBM --timesteps 65536 --seed 7 --device cpu --eval-every 16384 --no-progress \
		--out $(MASTER_DIR); \
	$(BIN)/workbench export onnx $(MASTER_DIR) --out $(MASTER_DIR)/model.onnx; \
	rm -rf $(TEAM_DIR); \
	$(BIN)/workbench train tactical-team --preset compact --data synthetic-5min --train 2024-01-02:2024-02-23 \
		--val 2024-02-26:2024-03-08 --test 2024-03-11:2024-03-28 --timesteps 1024000 --accounts 8 --n-steps 128 \
		--episode-length 128 --eval-every 102400 --reward-mode vote_pnl --seed 7 --device cpu --no-progress --out $(TEAM_DIR); \
	$(BIN)/workbench export onnx $(TEAM_DIR) --out $(TEAM_DIR)/model.onnx; \
	echo "make policies: wall time $$(( $$(date +%s) - started )) s"

# The browser tests (tests/e2e) drive Debian's Chromium; install it when it is missing (root or sudo).
test: $(STAMP)
	test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .hypothesis
