# gowsgi build. PYTHON chooses the CPython the binary embeds, linked the
# way that Python's own interpreter links it:
# - built in (static libpython), when its interpreter has libpython
#   built in and the static library is installed: Debian's
#   /usr/bin/python3 with libpython3-dev. Its extension modules then
#   find the C API in the executable (-Wl,-E), as they do in python3.
#   In an A/B against the shared library (position-independent code)
#   Flask took 4-8 % less CPU per request (docs/benchmarks.md).
# - else the shared libpython, with an rpath to that Python's libdir
#   so the binary loads the same library at run time (pyenv, most
#   source builds). STATIC_LIBPYTHON=0 chooses this for any Python.
PYTHON ?= python3
GO     ?= go
STATIC_LIBPYTHON ?= auto

PY_LIBPC  := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBPC") or "")' 2>/dev/null)
PY_LIBDIR := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")' 2>/dev/null)
PY_INCLUDE := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_STATIC := $(if $(filter 0 no,$(STATIC_LIBPYTHON)),,$(shell $(PYTHON) -c 'import os, sysconfig as s; a = os.path.join(s.get_config_var("LIBPL") or "", s.get_config_var("LIBRARY") or ""); print(a if a.endswith(".a") and os.path.isfile(a) and "libpython" not in open("/proc/self/maps").read() else "")' 2>/dev/null))

ifneq ($(PY_STATIC),)
PY_STATIC_LIBS := $(shell $(PYTHON) -c 'import sysconfig as s; print(" ".join(dict.fromkeys(" ".join(s.get_config_var(k) or "" for k in ("LIBS", "SYSLIBS", "MODLIBS")).split())))')
PY_PCDIR := $(CURDIR)/bin/.pc-static
export PKG_CONFIG_PATH := $(PY_PCDIR):$(PY_LIBPC)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export CGO_LDFLAGS := -Wl,-E
else
export PKG_CONFIG_PATH := $(PY_LIBPC)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export CGO_LDFLAGS := -Wl,-rpath,$(PY_LIBDIR)
endif

BIN := bin/gowsgi
# The interpreter the binary embeds is named in it: sys.executable of an
# app without a virtualenv, and gowsgi --version.
PY_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
# GOWSGI_VERSION (pip's build sets it from pyproject.toml) is --version's.
GO_LDFLAGS := -X 'github.com/gowsgi/gowsgi/pyshim.builtFor=$(PY_EXE)'$(if $(GOWSGI_VERSION), -X 'github.com/gowsgi/gowsgi/config.Version=$(GOWSGI_VERSION)')

.PHONY: all build static-pc build-debian run test deps check-python unit integration race vet fuzz clean

all: build

check-python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "gowsgi: PYTHON=$(PYTHON) not found; install python3 (apt-get install python3) or set PYTHON=/path/to/python3" >&2; exit 1; }
	@test -f "$(PY_INCLUDE)/Python.h" || { echo "gowsgi: Python headers for $(PYTHON) are missing ($(PY_INCLUDE)/Python.h); on Debian: apt-get install libpython3-dev" >&2; exit 1; }
	@test -n "$(PY_LIBPC)" && test -f "$(PY_LIBPC)/python3-embed.pc" || { echo "gowsgi: $(PYTHON) has no python3-embed.pc; on Debian: apt-get install libpython3-dev pkg-config" >&2; exit 1; }

build: check-python static-pc
	$(GO) build -ldflags "$(GO_LDFLAGS)" -o $(BIN) ./cmd/gowsgi

# static-pc writes the pkg-config file that makes cgo link the static
# libpython (see PY_STATIC); nothing for a shared one.
static-pc:
ifneq ($(PY_STATIC),)
	@mkdir -p $(PY_PCDIR)
	@printf '%s\n' 'Name: Python' 'Description: CPython built into the binary' 'Version: 3' \
		'Libs: $(PY_STATIC) $(PY_STATIC_LIBS)' 'Cflags: -I$(PY_INCLUDE)' > $(PY_PCDIR)/python3-embed.pc
endif

# A second binary embedding Debian's /usr/bin/python3, whose apt
# python3-* packages (Django) the framework integration tests use.
DEBIAN_PYTHON := /usr/bin/python3
build-debian:
	@$(MAKE) --no-print-directory build PYTHON=$(DEBIAN_PYTHON) BIN=bin/gowsgi-debian

run: build
	$(BIN) -w 2 -b 127.0.0.1:8000 --chdir examples hello:app

# Packages the tests need, installed only when missing. The deployment
# tests run nginx, apache2 (its apache2-bin has mod_proxy_uwsgi since
# bookworm; libapache2-mod-proxy-uwsgi is only a transitional package)
# and systemd's systemd-socket-activate and systemd-analyze; the
# retirement tests run wrk.
DEB_PACKAGES := curl openssl pkg-config libpython3-dev python3-flask python3-django systemd prometheus nginx apache2 wrk python3-fastapi python3-uvloop python3-websockets
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "gowsgi: missing packages:$$missing; install them with: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	echo "installing:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing

# websocket/'s peer test runs Debian's python3-websockets as a client.
DEB_PACKAGES += python3-websockets
# The --paste test loads its app with Debian's PasteDeploy.
DEB_PACKAGES += python3-pastedeploy
# The chunked upload test runs Debian's Bottle, which decodes chunked
# bodies itself.
DEB_PACKAGES += python3-bottle
# The --env-file test compares gowsgi with Debian's python-dotenv, which
# Uvicorn's --env-file calls.
DEB_PACKAGES += python3-dotenv
# TestGunicornLogFormat takes the layout of an error log line from
# Debian's Gunicorn itself.
DEB_PACKAGES += gunicorn

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./master/ ./httpparse/ ./httpparse/proxyproto/ ./httpparse/uwsgiproto/ ./config/... ./handoff/ ./proctitle/ ./errorlog/ ./sysuser/ ./wsgi/ ./statsd/ ./accesslog/ ./hostport/ ./pemkey/ ./engine/

# internal/archtest: the import rules (README, How the code is arranged).
# engine: the connection engine against a Go application (docs/engine.md).
race:
	$(GO) test -race -shuffle=on ./internal/archtest/ ./httpparse/ ./httpparse/proxyproto/ ./httpparse/uwsgiproto/ ./config/... ./handoff/ ./proctitle/ ./errorlog/ ./sysuser/ ./wsgi/ ./master/ ./accesslog/ ./hostport/ ./statsd/ ./pemkey/ ./engine/ ./websocket/

# engine again without -race: its allocation tests (the race detector
# allocates).
unit:
	$(GO) test -ldflags "$(GO_LDFLAGS)" ./pyshim/ ./worker/
	$(GO) test -run Allocates ./engine/

# The integration suite times real servers; two checkouts on one machine
# running it at once starve each other's servers and flake, so runs take
# turns on a lock (INTEGRATION_LOCK= runs without it).
INTEGRATION_LOCK ?= /tmp/gowsgi-integration.lock
integration: build
	GOWSGI_PYTHON=$(PY_EXE) GOWSGI_PYTHONS="$(PY_EXE) $(PYTHONS)" $(if $(INTEGRATION_LOCK),flock $(INTEGRATION_LOCK) )$(GO) test -count=1 ./integration/

test: deps build vet race unit integration pythons

# Every other CPython: PYTHONS (by default the pyenv 3.11+ ones present
# but PYTHON's own) each get the pyshim and worker unit tests and the
# integration smoke tests (-run Smoke) with a binary built for them,
# bin/gowsgi-X.Y.Z; in parallel, each one's output in bin/pythons-X.Y.Z.log,
# shown when it fails.
PYTHONS ?= $(filter-out $(PY_EXE),$(wildcard $(shell pyenv root 2>/dev/null)/versions/3.1[1-9]*/bin/python3))
.PHONY: pythons python-tests
pythons:
	@$(MAKE) --no-print-directory -j3 python-tests
python-tests: $(addprefix python-test/,$(PYTHONS))
python-test/%:
	@v=$$($* -c 'import platform; print(platform.python_version())' 2>/dev/null) || \
	{ echo "gowsgi: $* (in PYTHONS) does not run" >&2; exit 1; }; mkdir -p bin && \
	{ $(MAKE) -s --no-print-directory build unit PYTHON=$* BIN=bin/gowsgi-$$v && GOWSGI_BINARY=bin/gowsgi-$$v \
	  GOWSGI_PYTHON=$* $(if $(INTEGRATION_LOCK),flock $(INTEGRATION_LOCK) )$(GO) test -count=1 -run Smoke ./integration/; } >bin/pythons-$$v.log 2>&1 && \
	echo "CPython $$v ($*): unit and smoke tests ok" || \
	{ cat bin/pythons-$$v.log; echo "CPython $$v ($*): FAILED" >&2; exit 1; }

# Fuzz every target for FUZZTIME each (go test -fuzz takes one target per
# run), one fuzzing process at a time with FUZZPARALLEL workers (1: the
# machine is shared). Every target runs even if one fails; a failing
# input is kept under the package's testdata/fuzz/<target>/ by go test,
# where it then seeds the normal tests. docs/httpparse.md has the figures
# of the last long run.
FUZZTIME ?= 60s
FUZZPARALLEL ?= 1
FUZZ_TARGETS := \
	./httpparse/:FuzzReadRequest ./httpparse/:FuzzChunkedBody ./httpparse/:FuzzDifferential \
	./httpparse/proxyproto/:FuzzRead ./httpparse/uwsgiproto/:FuzzReadPacket \
	./config/:FuzzDecodeFile ./config/:FuzzCommandLine ./config/:FuzzDotenv ./config/:FuzzSelectCiphers ./accesslog/:FuzzParse ./wsgi/:FuzzEnviron ./wsgi/:FuzzBuildUwsgi ./pemkey/:FuzzParsePKCS8
fuzz:
	@failed=""; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -parallel=$(FUZZPARALLEL) $$pkg || failed="$$failed $$fn"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failing targets:$$failed" >&2; exit 1; fi

clean:
	rm -rf bin

# Benchmarks (docs/benchmarks.md): the hot-path Go benchmarks, then gowsgi,
# a Go floor and its peers (Gunicorn, uWSGI, Waitress from Debian) under
# wrk, interleaved in rounds, pinned and shared CPUs; writes
# docs/benchmarks.md and docs/benchmarks-*.png. BENCH_PYTHON is the CPython
# gowsgi embeds for the run: the one the peers run on, so both sides run
# the same interpreter build. Knobs (env): ROUNDS, DURATION, CPU_MODES,
# SERVERS, WORKLOADS, CLOSE_WORKLOADS; see bench/run.sh.
BENCH_PYTHON ?= /usr/bin/python3
BENCH_DEB_PACKAGES := $(DEB_PACKAGES) gunicorn uwsgi uwsgi-plugin-python3 python3-waitress gnuplot-nox iproute2 \
	python3-uvicorn python3-httptools python3-uvloop python3-hypercorn python3-fastapi
.PHONY: bench bench-deps bench-go bench-balance
bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_DEB_PACKAGES)"

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./httpparse/ ./wsgi/ ./pyshim/

# The measured binary is bin/gowsgi-bench, so that a `make build` for the
# default Python (bench-balance's, a test's) cannot swap it mid-run.
BENCH_BIN := bin/gowsgi-bench
bench: bench-deps
	$(MAKE) build PYTHON=$(BENCH_PYTHON) BIN=$(BENCH_BIN)
	$(GO) build -o bin/floor ./bench/floor
	$(GO) build -o bin/tlsload ./bench/tlsload
	$(GO) build -o bin/wsload ./bench/wsload
	GOWSGI=$(CURDIR)/$(BENCH_BIN) bench/run.sh
	$(MAKE) --no-print-directory bench-balance

# How evenly 2 workers share keep-alive load at c=8 and c=64: the busiest
# worker's share of requests (50% is even), the fewest requests any
# client got, req/s and the reconnections rebalancing caused
# (integration/balance_test.go, docs/worker.md).
bench-balance: build
	$(GO) test -run '^$$' -bench Balance -benchtime 1x ./integration/

# Memory with and without --preload (docs/memory.md): PSS and private
# memory of 4 workers serving an app that builds ~50 MB of Python objects
# at import, at start and after a gc.collect() in each worker, and the
# workers' start-up times; bench/memory.
.PHONY: bench-memory
bench-memory: build
	$(GO) run ./bench/memory -binary $(BIN) -out docs/memory.md
