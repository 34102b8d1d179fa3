#!/usr/bin/env bash
# Runs every benchmark in release mode and prints one line per figure.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --product engine-throughput >/dev/null
for durability in full normal; do
    .build/release/engine-throughput 1 2000 "$durability"
    .build/release/engine-throughput 64 20000 "$durability"
done
