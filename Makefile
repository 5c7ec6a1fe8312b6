# Entry points for tests, the demo and the XSOAR content tooling.
# Needs only GNU make, git and Python 3.12 (the image's; 3.10+ works, with a notice) with pip:
# everything else comes from the locks, installed hash-checked by pip (pipenv is used to *write*
# a lock, never to install it).
#
#   make test         .venv from Pipfile.lock (the image's runtime set and the test tools), then pytest with coverage
#   make test-newest  .venv-newest from locks/newest/Pipfile.lock (the newest python3 image's set), then the same suite
#   make clock-check  .venv, then the end-to-end suite with the clocks at each hour of a day, across a year end (~3 min)
#   make fuzz         .venv, then the argument fuzzing, exploring new examples from a printed seed (FUZZ_SEED=... repeats)
#   make demo         .venv, then the local runner's demo against the emulator
#   make docs         .venv, then regenerate the parameter and command reference (README.md, docs/commands.md)
#   make validate     .venv-sdk (locks/sdk/Pipfile.lock), stage the pack, demisto-sdk validate + xsoar-lint
#   make package      .venv-sdk, stage, demisto-sdk -> dist/DarktraceNDR.zip (the pack) and dist/integration-Darktrace.yml
#   make stage        copy the content into a fresh content-repository tree under build/content
#   make clean        remove the virtual environments and everything built
#   make help         list these targets (the lines above)
#
# XSOAR_PLATFORM_DIR=<folder with the real CommonServerPython.py and demistomock.py> makes the
# tests, the demo, the runner and the docs use those modules instead of xsoar_stubs/ (README).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

# The image runs Python 3.12, so the venvs are built on a 3.12 when the machine has one: on PATH,
# or under pyenv, found by path because a non-interactive shell (CI's) may not have pyenv's shims
# initialised, and an inactive shim fails to run. Otherwise python3, with a notice. PYTHON=... wins.
PYTHON_CANDIDATES := python3.12 $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12) \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12)
ifndef PYTHON
PYTHON := $(firstword $(foreach candidate,$(PYTHON_CANDIDATES),$(shell $(candidate) -c \
	'import sys; sys.version_info[:2] == (3, 12) and print(sys.executable)' 2>/dev/null)) \
	$(shell command -v python3))
endif
LOCK := Pipfile.lock
NEWEST_LOCK := locks/newest/Pipfile.lock
SDK_LOCK := locks/sdk/Pipfile.lock
VENV := .venv
NEWEST_VENV := .venv-newest
SDK_VENV := .venv-sdk
# A venv is rebuilt from scratch whenever its lock (or the tool that reads it) is newer than
# its stamp, so it never keeps packages the lock no longer has.
VENV_STAMP := $(VENV)/.installed-from-lock
NEWEST_STAMP := $(NEWEST_VENV)/.installed-from-lock
SDK_STAMP := $(SDK_VENV)/.installed-from-lock

BUILD := build
STAGE := $(BUILD)/content
DIST := dist
INTEGRATION_DIR := Packs/DarktraceNDR/Integrations/Darktrace
UNIFIED := $(DIST)/integration-Darktrace.yml
PACK_DIR := Packs/DarktraceNDR
PACK_ZIP := $(DIST)/DarktraceNDR.zip
PYTEST_ARGS ?=
# A safety net so a hung test fails in minutes instead of holding CI until its limit.
PYTEST_TIMEOUT ?= 300

SDK := $(abspath $(SDK_VENV))/bin/demisto-sdk
# demisto-sdk only runs inside a content-shaped git tree (see tools/stage_content.py); the first
# variable silences its "not the content repository" warning. Its logs and pylint's history go
# under build/ rather than the home folder.
SDK_ENV := DEMISTO_SDK_IGNORE_CONTENT_WARNING=1 DEMISTO_SDK_LOG_NO_COLORS=true \
	DEMISTO_SDK_LOG_FILE_PATH=$(abspath $(BUILD))/sdk-logs PYLINTHOME=$(abspath $(BUILD))/pylint
# prepare-content and xsoar-lint accept the sdk's offline switch (they then skip GitHub
# look-ups); validate refuses to start with it, so it is set only for those two.
SDK_OFFLINE := DEMISTO_SDK_OFFLINE_ENV=true
# Where the kernel allows it, the sdk runs in an empty network namespace: proof that nothing
# it does needs the network, and no stray request can leave the machine.
NO_NETWORK := $(shell unshare --net --map-root-user true >/dev/null 2>&1 && echo unshare --net --map-root-user)
# Runs an sdk command and prints what matters: findings and a one-line result on success, the
# whole output on failure; colour tags removed, exit status kept (tools/sdk_output.py).
SDK_OUTPUT = $(PYTHON) $(CURDIR)/tools/sdk_output.py --name

.PHONY: test test-newest clock-check fuzz demo docs validate package stage clean help

# $(call make_venv,<venv>,<lock>,<categories>). The locks are for Python 3.12; another 3.10+ gets a
# one-line notice (the locked test tools install from 3.10 on).
define make_venv
@$(PYTHON) -c 'import sys; version = sys.version.split()[0]; \
	sys.version_info[:2] < (3, 10) and sys.exit(f"$(1): $(PYTHON) is Python {version}; the locks need 3.10+, 3.12 is what the image runs: run make PYTHON=/path/to/python3.12"); \
	print(f"Creating $(1) with Python {version} ({sys.executable}) from $(2) [$(3)]"); \
	sys.version_info[:2] != (3, 12) and print(f"Notice: $(2) is locked for Python 3.12, which the image runs; using {version} instead")'
$(PYTHON) -m venv --clear $(1)
$(PYTHON) tools/lock_to_requirements.py --lock $(2) --categories $(3) -o $(1)/requirements.txt
$(1)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(1)/requirements.txt
endef

# Says what a test run ran with, then runs the whole suite.
define run_tests
@$(1)/bin/python -c 'import sys; from importlib.metadata import version; \
	print(f"Testing in $(1): Python {sys.version.split()[0]}, " + ", ".join(f"{name} {version(name)}" for name in \
	("requests", "urllib3", "dateparser", "python-dateutil", "pytz", "tzlocal", "regex", "certifi", "idna", "charset-normalizer", "pysocks")))'
$(1)/bin/python -m pytest --cov=Darktrace --cov-report=term-missing \
	--timeout=$(PYTEST_TIMEOUT) $(PYTEST_ARGS)
endef

$(VENV_STAMP): $(LOCK) tools/lock_to_requirements.py
	$(call make_venv,$(VENV),$(LOCK),default develop)
	touch $@

$(NEWEST_STAMP): $(NEWEST_LOCK) tools/lock_to_requirements.py
	$(call make_venv,$(NEWEST_VENV),$(NEWEST_LOCK),default develop)
	touch $@

$(SDK_STAMP): $(SDK_LOCK) tools/lock_to_requirements.py
	$(call make_venv,$(SDK_VENV),$(SDK_LOCK),default)
	touch $@

test: $(VENV_STAMP)
	$(call run_tests,$(VENV))

test-newest: $(NEWEST_STAMP)
	$(call run_tests,$(NEWEST_VENV))

# Every test runs with the clocks pinned at one moment (conftest.py); this runs the end-to-end suite at 24 others,
# so a test that passes only at some hours, or not across a year end, fails here (tools/clock_check.py).
clock-check: $(VENV_STAMP)
	$(VENV)/bin/python tools/clock_check.py tests/e2e

# `make test` runs Hypothesis derandomized (the "ci" profile, conftest.py), the same examples every time; this
# explores new ones. The seed is printed first: FUZZ_SEED=<it> make fuzz draws the same examples again. Whatever it
# finds goes into tests/test_argument_fuzz.py as an @example, so make test keeps checking it.
FUZZ_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
FUZZ_EXAMPLES ?= 300
fuzz: $(VENV_STAMP)
	@echo "Fuzzing with seed $(FUZZ_SEED) ($(FUZZ_EXAMPLES) examples per argument); repeat with FUZZ_SEED=$(FUZZ_SEED) make fuzz"
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/python -m pytest -p no:cacheprovider -q --hypothesis-profile=fuzz \
		--hypothesis-seed=$(FUZZ_SEED) --hypothesis-show-statistics tests/test_argument_fuzz.py tests/test_fetch_property.py

demo: $(VENV_STAMP)
	$(VENV)/bin/python -m runner --demo

# The README's `configuration` and `commands` blocks and docs/commands.md come from Darktrace.yml
# and from running command_examples against the emulator, with its clock held still so the output
# never changes by itself; tests/test_docs.py fails when the tables fall behind the YAML.
docs: $(VENV_STAMP)
	$(VENV)/bin/python -m tools.gen_docs

# A fresh pack tree on every run, so a file removed here never lingers in the staged pack:
# pack/ (metadata, incident types and fields, mappers, layouts, playbooks, scripts, release
# notes) plus the integration's files from the repository root.
stage:
	@$(PYTHON) tools/stage_content.py --source . --dest $(STAGE)

validate: $(SDK_STAMP) stage
	@cd $(STAGE) && $(SDK_OUTPUT) 'demisto-sdk validate' -- $(NO_NETWORK) env $(SDK_ENV) $(SDK) validate -g \
		--config-path $(CURDIR)/tools/validate_config.toml
	@cd $(STAGE) && $(SDK_OUTPUT) 'xsoar-lint' -- $(NO_NETWORK) env $(SDK_ENV) $(SDK_OFFLINE) $(SDK) xsoar-lint \
		$(INTEGRATION_DIR)/Darktrace.py

# zip-packs unifies every item (the integration with its code, image and description; the
# scripts) and zips the pack as XSOAR's "Upload pack" takes it.
package: $(SDK_STAMP) stage
	@rm -rf $(DIST) $(BUILD)/zip
	@mkdir -p $(DIST) $(BUILD)/zip
	@cd $(STAGE) && $(SDK_OUTPUT) 'demisto-sdk prepare-content' --quiet -- $(NO_NETWORK) env $(SDK_ENV) $(SDK_OFFLINE) \
		$(SDK) prepare-content -i $(INTEGRATION_DIR) -o $(CURDIR)/$(DIST)
	@# Test playbooks are validated with the pack but not installed with it (one quarantines a device).
	@rm -rf $(STAGE)/$(PACK_DIR)/TestPlaybooks
	@cd $(STAGE) && $(SDK_OUTPUT) 'demisto-sdk zip-packs' --quiet -- $(NO_NETWORK) env $(SDK_ENV) $(SDK_OFFLINE) \
		$(SDK) zip-packs -i $(PACK_DIR) -o $(abspath $(BUILD))/zip
	@cp $(BUILD)/zip/uploadable_packs/DarktraceNDR.zip $(PACK_ZIP)
	@test -s $(UNIFIED) && test -s $(PACK_ZIP)
	@echo "Unified integration: $(UNIFIED)"
	@echo "Installable pack: $(PACK_ZIP)"

# The target list at the top of this file is the help text, so it is written in one place.
help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

clean:
	rm -rf $(VENV) $(NEWEST_VENV) $(SDK_VENV) $(BUILD) $(DIST) .pytest_cache .hypothesis .coverage htmlcov
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
