# The two commands a new machine needs: `make run` and `make test`.
# Both install the Debian packages the build needs when they are missing.

APT_PACKAGES := liblua5.4-dev libsqlite3-dev pkg-config sqlite3
DB ?= onced.db

.PHONY: deps build run test bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	swift build -c release --product onced

run: build
	.build/release/onced apply --db $(DB) < examples/sample.jsonl

test: deps
	swift build --build-tests
	swift test --skip-build

bench: deps
	Benchmarks/run.sh

clean:
	rm -rf .build Benchmarks/.build
