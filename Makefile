# nattest — run as root on Debian/Ubuntu. `make test-nat` and `make test` install what is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_FLAGS ?=
# pytest workers for lab tests: 4 on namespaces (peers fork warm); 2 on docker, where every
# peer starts cold in its container (a fresh python3 importing aiortc): at 4, the cold
# starts of one worker's calls starved another's timing scenarios (RTT, shaper delay,
# bitrate samples) on 2 cores; at 2 all 99 scenarios pass, in 3 min instead of 2.3.
LAB_WORKERS = $(if $(filter docker,$(NATTEST_BACKEND)),2,4)
SYSTEM_PACKAGES := coturn iptables nftables conntrack iproute2 iputils-ping tcpdump python3 python3-venv python3-pip
SYSTEM_COMMANDS := turnserver turnutils_natdiscovery nft iptables conntrack ip ping tcpdump python3

.PHONY: deps system-deps deps-browser venv test test-unit test-nat lint bench bench-matrix clean-labs \
	deps-docker docker-up docker-base wheelhouse docker-images

deps: system-deps venv

# apt only when a command is missing: a prepared machine does no network work here.
system-deps:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	python3 -m venv --help >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages (missing:$$missing)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install$$missing" >&2; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

# Chromium for the `chromium` peer kind (Debian's package; Ubuntu's `chromium-browser`
# is a snap shim that cannot run in a namespace, so Debian's is what this asks for).
deps-browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromium-headless-shell >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-headless-shell (peer kind 'chromium')"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install chromium" >&2; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-headless-shell fonts-liberation; \
	fi

# The docker backend: Debian's engine (and mmdebstrap for a base image without a registry).
deps-docker:
	@if ! command -v dockerd >/dev/null 2>&1 || ! command -v mmdebstrap >/dev/null 2>&1; then \
	  echo "installing docker.io and mmdebstrap (backend 'docker')"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install docker.io" >&2; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io mmdebstrap; \
	fi

# Start the engine when its socket is missing (no systemd needed); its log and PID under /run.
docker-up: deps-docker
	@if ! docker info >/dev/null 2>&1; then \
	  echo "starting dockerd (log /run/nattest-dockerd.log)"; \
	  setsid dockerd >/run/nattest-dockerd.log 2>&1 < /dev/null & echo $$! > /run/nattest-dockerd.pid; \
	  for i in $$(seq 1 60); do docker info >/dev/null 2>&1 && exit 0; sleep 0.5; done; \
	  echo "error: dockerd did not answer within 30 s: see /run/nattest-dockerd.log" >&2; exit 2; \
	fi

DOCKER_BASE := nattest-base:bookworm
DOCKER_IMAGE := nattest:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
DEBIAN_MIRROR ?= http://deb.debian.org/debian
DEBIAN_SECURITY ?= http://deb.debian.org/debian-security

# The base image from Debian's archive, no registry: mmdebstrap of bookworm into docker import.
docker-base: docker-up
	@if ! docker image inspect $(DOCKER_BASE) >/dev/null 2>&1; then \
	  echo "building $(DOCKER_BASE) with mmdebstrap (no registry needed)"; \
	  mmdebstrap --quiet --variant=minbase --include=$$(grep -v '^#' docker/packages.txt | paste -sd,) \
	    bookworm - "deb $(DEBIAN_MIRROR) bookworm main" "deb $(DEBIAN_SECURITY) bookworm-security main" \
	  | docker import --change 'CMD ["tini", "--", "sleep", "infinity"]' - $(DOCKER_BASE) >/dev/null; \
	fi

# nattest and its dependencies as wheels, for a docker build that has no package index.
wheelhouse: venv
	@rm -rf build/wheelhouse
	$(PY) -m pip wheel -q -w build/wheelhouse .

# The image lab nodes run: the base from a registry (base.Dockerfile) unless it is already
# here (`make docker-base`), then nattest on it, labelled with its wheelhouse's digest.
docker-images: docker-up wheelhouse
	@if ! docker image inspect $(DOCKER_BASE) >/dev/null 2>&1; then \
	  docker build -q -f docker/base.Dockerfile -t $(DOCKER_BASE) docker; \
	fi
	docker build -q --network=none -f docker/nattest.Dockerfile \
	  --build-arg DEPS=$$(ls build/wheelhouse | sort | sha256sum | cut -c1-16) -t $(DOCKER_IMAGE) .

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# All tests: unit tests (no root) and lab tests (root, real namespaces, coturn, aiortc),
# including the matrix as a parametrized test. Lab tests mostly wait on peer processes.
# Then the lab scenarios again on the docker backend (what `NATTEST_BACKEND=docker make
# test-nat` runs after its matrices: calls, relay-only, verify-nat of every preset,
# impairments, faults, captures, interrupts; not the Chromium ones: the image has no
# browser); the docker-only tests (tests/docker: isolation, own image, crash collection,
# the whole matrix on containers) are in the first run.
# (No registry here: the base image comes from mmdebstrap, `docker-base`, first.)
test: deps deps-browser docker-base docker-images
	$(PY) -m pytest -n 4 $(PYTEST_FLAGS) tests
	NATTEST_BACKEND=docker $(PY) -m pytest -n 2 $(PYTEST_FLAGS) \
	  --junitxml=results/junit-docker.xml --nattest-backend docker -m "not slow" tests/lab \
	  --ignore=tests/lab/test_matrix.py --ignore=tests/lab/test_chromium.py

test-unit: venv
	$(PY) -m pytest -n 2 $(PYTEST_FLAGS) tests/unit

# What CI runs for NAT traversal: the connectivity matrix (reports in results/), then
# the NAT scenarios (presets verified, candidates, pairs, relay-only, teardown); the slow
# ones (`@pytest.mark.slow`: faults waiting out consent freshness) run in `make test`.
# NATTEST_BACKEND=docker runs it on containers (the engine and images installed and built
# first); the Chromium matrix stays on namespaces (the image has no browser).
test-nat: deps deps-browser $(if $(filter docker,$(NATTEST_BACKEND)),docker-base docker-images)
	@mkdir -p results; rc=0; \
	$(VENV)/bin/nattest matrix --junit results/matrix-junit.xml --html results/matrix.html \
	  --json results/matrix.json || rc=1; \
	$(VENV)/bin/nattest matrix --caller chromium --callee chromium --backend netns \
	  --junit results/matrix-chromium-junit.xml --html results/matrix-chromium.html \
	  --json results/matrix-chromium.json || rc=1; \
	$(PY) -m pytest -n $(LAB_WORKERS) $(PYTEST_FLAGS) --junitxml=results/scenarios-junit.xml tests/lab \
	  --ignore=tests/lab/test_matrix.py -m "not slow" \
	  $(if $(filter docker,$(NATTEST_BACKEND)),--ignore=tests/lab/test_chromium.py) || rc=1; \
	exit $$rc

bench-matrix: deps
	$(PY) bench/matrix.py

lint: venv
	$(VENV)/bin/ruff check nattest tests bench
	$(VENV)/bin/mypy nattest

bench: deps
	$(PY) bench/lab_up.py

# Collect labs left by a killed run.
clean-labs: venv
	$(VENV)/bin/nattest down --all
