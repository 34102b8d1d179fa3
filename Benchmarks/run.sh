#!/usr/bin/env bash
# Every benchmark, each beside its baseline in the same run. `make bench` runs
# this; `Benchmarks/run.sh engine|rules|shadow|apply|lifecycle|query|http|postgres|overload` runs one.
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
    echo "== rule cost per property: apply --dry-run CPU with the rules minus without, vs the raw Lua call (5 interleaved rounds, best of each)"
    ./rule_cost.sh
fi

if [[ $what == all || $what == shadow ]]; then
    echo "== shadow rules per write: a comparison vs its chain alone (instructions), serve with and without (interleaved)"
    ./shadow_cost.sh
fi

if [[ $what == all || $what == apply ]]; then
    echo "== onced apply vs the SQLite floor"
    ./apply.sh
fi

if [[ $what == all || $what == lifecycle ]]; then
    echo "== dropping a property of 1,000,000 profiles under writes, beside the same writes without (SQLite, then PostgreSQL)"
    ./lifecycle.sh
    ./lifecycle_postgres.sh
fi

if [[ $what == all || $what == query ]]; then
    echo "== cohort queries on 1,000,000 profiles × 10 properties (SQLite) vs hand-written SQL on a wide table; export rate"
    ./query.sh
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
