#!/usr/bin/env bash
# Runs every benchmark in release mode, each beside its baseline, and prints
# one line per figure. `make bench` runs this.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
swift build -c release --product engine-throughput >/dev/null
swift build -c release --product rule-hook-cost >/dev/null
cc -O2 -o out/lua_hook_baseline c/lua_hook_baseline.c -llua5.4

echo "== engine set-once throughput (SQLite, 5 properties per request, new profiles)"
for durability in full normal; do
    .build/release/engine-throughput 1 2000 "$durability"
    .build/release/engine-throughput 64 20000 "$durability"
done

echo "== rule property-hook cost per property (engine chain vs the raw Lua C API, same run; best of 5)"
best() { for _ in 1 2 3 4 5; do "$@"; done | sort -g | head -1; }
calls=1000000
for rule in trivial normalize; do
    engine=$(best .build/release/rule-hook-cost "rules/$rule.lua" "$calls")
    raw=$(best out/lua_hook_baseline "rules/$rule.lua" "$calls")
    hooked=$(best out/lua_hook_baseline "rules/$rule.lua" "$calls" budget)
    awk -v r="$rule" -v e="$engine" -v c="$raw" -v h="$hooked" 'BEGIN {
        printf "%-10s engine %7.1f ns | raw C API %7.1f ns (ratio %.2fx) | raw C API + count hook %7.1f ns (ratio %.2fx)\n",
               r, e, c, e / c, h, e / h }'
done
