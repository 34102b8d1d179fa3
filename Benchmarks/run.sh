#!/usr/bin/env bash
# Every benchmark, each beside its baseline in the same run. `make bench` runs
# this; `Benchmarks/run.sh engine|rules|apply|http|postgres|overload` runs one.
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-all}
minimum() { printf '%s\n' "$@" | sort -g | head -1; }

if [[ $what == all || $what == engine ]]; then
    swift build -c release --product engine-throughput >/dev/null
    echo "== engine set-once throughput (SQLite, 5 properties per request, new profiles, no rules)"
    for durability in full normal; do
        .build/release/engine-throughput 1 2000 "$durability"
        .build/release/engine-throughput 64 20000 "$durability"
    done
fi

if [[ $what == all || $what == rules ]]; then
    swift build -c release --product rule-hook-cost >/dev/null
    mkdir -p out
    cc -O2 -o out/lua_hook_baseline c/lua_hook_baseline.c -llua5.4
    echo "== rule property-hook cost per property (engine chain vs the raw Lua C API; best of 7 interleaved rounds)"
    calls=1000000
    for rule in trivial normalize; do
        # Interleaved, so a slow spell of this shared machine hits all three alike.
        engine=() raw=() hooked=()
        for _ in 1 2 3 4 5 6 7; do
            engine+=("$(.build/release/rule-hook-cost "rules/$rule.lua" "$calls")")
            raw+=("$(out/lua_hook_baseline "rules/$rule.lua" "$calls")")
            hooked+=("$(out/lua_hook_baseline "rules/$rule.lua" "$calls" budget)")
        done
        engine=$(minimum "${engine[@]}") raw=$(minimum "${raw[@]}") hooked=$(minimum "${hooked[@]}")
        awk -v r="$rule" -v e="$engine" -v c="$raw" -v h="$hooked" 'BEGIN {
            printf "%-10s engine %7.1f ns | raw C API %7.1f ns (%.2fx) | raw C API + count hook %7.1f ns (%.2fx)\n",
                   r, e, c, e / c, h, e / h }'
    done
fi

if [[ $what == all || $what == apply ]]; then
    echo "== onced apply vs the SQLite floor"
    ./apply.sh
fi

if [[ $what == all || $what == http ]]; then
    echo "== onced serve vs Redis EVALSHA (64 connections)"
    ./http.sh
fi

if [[ $what == all || $what == postgres ]]; then
    echo "== onced serve on PostgreSQL (1 and 2 processes) vs pgbench"
    ./postgres.sh
fi

if [[ $what == all || $what == overload ]]; then
    echo "== onced serve over capacity (1,024 connections, no backoff)"
    ./overload.sh
fi
