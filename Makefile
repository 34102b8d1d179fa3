# The two commands a new machine needs: `make run` and `make test`.
# `make bench` runs the benchmarks (it installs wrk and redis-server itself).
# Both install the Debian packages the build needs when they are missing.

APT_PACKAGES := liblua5.4-dev libsqlite3-dev pkg-config sqlite3 postgresql python3-venv
DB ?= onced.db

.PHONY: deps build run test fuzz bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	swift build -c release --product onced

# Serves ./onced.db with the shipped ./rules on 127.0.0.1:8080 and prints a curl to try.
run: build
	.build/release/onced serve --db $(DB) --api-key FY12345678:dev-key

# The suite runs every store-level and end-to-end test on SQLite and on a
# throwaway PostgreSQL cluster that scripts/with-postgres starts and removes.
# The load tests (two daemons, a PostgreSQL crash under load, SIGKILL and
# overload under load, reloads under load with their 2 s bound) run after the
# rest, one suite at a time, so they load the product rather than a machine
# already full of other tests.
# Then schemathesis checks the running daemon against openapi.yaml.
# Each step has a deadline (scripts/deadline): a hang fails the run early,
# with the tests that were running and the processes still alive.
LOAD_SUITES := PostgresScaleOutTests ReloadTests CrashUnderLoadTests OverloadTests
API_EXAMPLES ?= 100
test: deps
	swift build --build-tests
	scripts/with-postgres sh -c 'scripts/deadline 1200 swift test --skip-build $(foreach s,$(LOAD_SUITES),--skip $(s)) \
		$(foreach s,$(LOAD_SUITES),&& scripts/deadline 600 swift test --skip-build --filter $(s))'
	scripts/deadline 900 scripts/api-conformance $(API_EXAMPLES)

# libFuzzer on each input decoder for FUZZ_SECONDS (a separate, instrumented build).
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz $(FUZZ_SECONDS)


bench: deps
	Benchmarks/run.sh

clean:
	rm -rf .build Benchmarks/.build
