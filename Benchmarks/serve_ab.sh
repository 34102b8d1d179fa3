#!/usr/bin/env bash
# Interleaved A/B of `onced serve` under wrk (64 connections, the set-once of
# wrk-set-once.lua): each VARIANT is `BINARY[:RULES_DIR]`, run ROUNDS times in
# turn, each for SECONDS (`BINARY:RULES:SHADOW_DIR` adds --shadow-rules). Prints req/s, p50, p99 and the CPU per request of
# each thread group (writer, pool, event loops) from /proc, so two builds (or
# the same build with and without rules) are compared in one run, as this
# noisy machine needs.
#   Benchmarks/serve_ab.sh [-r ROUNDS] [-s SECONDS] VARIANT...
#   e.g. Benchmarks/serve_ab.sh .build/release/onced:rules .build/release/onced:/tmp/empty-rules
set -euo pipefail
rounds=2 seconds=10
while getopts r:s: option; do
    case $option in r) rounds=$OPTARG ;; s) seconds=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n 2,9p "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

thread_cpu() {
    for stat in /proc/"$1"/task/*/stat; do
        comm=$(sed 's/^[0-9]* (\(.*\)) .*/\1/' "$stat"); fields=$(sed 's/^.*) //' "$stat"); set -- $fields
        echo "$comm ${12} ${13}"
    done | awk -v t="$(getconf CLK_TCK)" '{
        g = "other"
        if ($1 ~ /^NIO-/) g = "loops"; else if ($1 ~ /overcommit/) g = "writer"; else if ($1 ~ /default-qos|user-initiated|utility/) g = "pool"
        c[g] += ($2 + $3) / t
    } END { printf "%.3f %.3f %.3f\n", c["writer"], c["pool"], c["loops"] }'
}

run() {
    local binary=${1%%:*} rules=${1#*:} shadow=() work pid
    [ "$rules" = "$1" ] && rules=$here/../rules
    if [[ $rules == *:* ]]; then shadow=(--shadow-rules "${rules#*:}"); rules=${rules%%:*}; fi
    work=$(mktemp -d)
    "$binary" serve --db "$work/onced.db" --rules "$rules" "${shadow[@]}" --port 18490 --api-key FY12345678:bench-key \
        --log-level warning > "$work/log" 2>&1 &
    pid=$!
    until grep -q listening "$work/log"; do sleep 0.2; done
    read -r w0 p0 l0 < <(thread_cpu $pid)
    wrk -t2 -c64 -d"${seconds}s" --latency -s "$here/wrk-set-once.lua" http://127.0.0.1:18490 > "$work/wrk.txt"
    read -r w1 p1 l1 < <(thread_cpu $pid)
    # With shadow rules: how many writes were compared, and how many skipped (queue full).
    local shadowed=""
    [ ${#shadow[@]} -gt 0 ] && shadowed=$(curl -s http://127.0.0.1:18490/metrics |
        awk '/^onced_shadow_(compared|skipped)_total/ { sub(/onced_shadow_/, ""); sub(/_total/, ""); printf "%s %s ", $1, $2 }')
    kill -TERM $pid; wait $pid || true
    awk -v label="$1" -v shadowed="$shadowed" -v w="$w0 $w1" -v p="$p0 $p1" -v l="$l0 $l1" '
        /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
        function used(pair) { split(pair, v, " "); return (v[2] - v[1]) * 1e6 / n }
        END { printf "%-40s %9s req/s  p50 %-8s p99 %-8s CPU per request: writer %.1f us, pool %.1f us, loops %.1f us %s\n",
                     label, rps, p50, p99, used(w), used(p), used(l), shadowed == "" ? "" : "(shadow: " shadowed "of " n ")" }' "$work/wrk.txt"
    rm -rf "$work"
}

for _ in $(seq "$rounds"); do
    for variant in "$@"; do run "$variant"; done
done
