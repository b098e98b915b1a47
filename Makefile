# The README's two commands: `make run` and `make test`. Both create .venv and
# install what they need; nothing else has to be on the machine but Python 3.11+.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check audit bench clean-data help shuping-verify

help:
	@echo "make run    - start Shuping with embedded PostgreSQL and a demo county"
	@echo "make test   - run the whole test suite against a throwaway PostgreSQL"
	@echo "make check  - ruff and mypy"
	@echo "make audit  - known vulnerabilities in the dependencies (pip-audit; says so when offline)"
	@echo "make bench  - run the benchmarks and write docs/benchmarks.md"
	@echo "make shuping-verify - build the offline verifier as served (.shuping/shuping-verify.pyz)"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "需要 Python 3.11 或更高版本 / Python 3.11+ is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@

run: $(STAMP)
	$(BIN)/shuping run

test: $(STAMP)
	$(BIN)/shuping test $(PYTEST_ARGS)

# mypy's Django plugin loads the settings, which refuse to start without a
# secret key outside development (shuping.hosted): it reads them, serves nothing.
check: $(STAMP)
	$(BIN)/ruff check platform tenants tests bench infra
	SHUPING_DEBUG=1 $(BIN)/mypy platform/common platform/shuping platform/accounts platform/events platform/projections platform/meetings platform/staff platform/followup platform/regions platform/live tenants infra

# The download /shuping-verify.pyz, byte for byte: standard library only, no venv needed.
shuping-verify:
	@mkdir -p .shuping
	$(PYTHON) platform/events/shuping_verify_build.py .shuping/shuping-verify.pyz

audit: $(STAMP)
	$(BIN)/python .ci/audit.py

bench: $(STAMP)
	$(BIN)/python bench/event_store.py

clean-data:
	rm -rf .shuping
