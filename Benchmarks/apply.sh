#!/usr/bin/env bash
# onced apply --db on 200,000 set-once lines (5 properties each, new profiles,
# shipped rules on) beside a C program writing the same rows into the same
# schema (storage v3: the profile row with its values inline, five
# property_values index rows, the request record) as hand-written C in
# 2,000-line transactions (the floor of durable storage here), and once more
# without the index rows, to show what they cost; beside
# Redis (appendfsync always) running the same normalize-and-HSETNX as EVALSHA
# pipelined 16 deep (redis-benchmark -P 16); then apply --dry-run. One run.
set -euo pipefail
cd "$(dirname "$0")"
lines=${LINES_COUNT:-200000}
command -v redis-benchmark >/dev/null || apt-get install -y -qq redis-server >/dev/null
(cd .. && swift build -c release --product onced >/dev/null)
mkdir -p out
cc -O2 -o out/sqlite_floor c/sqlite_floor.c -lsqlite3
work=$(mktemp -d)
trap 'redis-cli -p 16390 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
python3 gen_lines.py "$lines" > "$work/lines.jsonl"

../.build/release/onced apply --db "$work/apply.db" --rules ../rules < "$work/lines.jsonl" > /dev/null 2> "$work/apply.txt"
apply_seconds=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/apply.txt")
apply_rss=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$work/apply.txt")

echo "" | ../.build/release/onced apply --db "$work/floor.db" > /dev/null 2>&1   # onced's schema, empty
cp "$work/floor.db" "$work/floor-unindexed.db"
floor_lines=$(out/sqlite_floor "$work/floor.db" "$lines")
floor_unindexed_lines=$(out/sqlite_floor "$work/floor-unindexed.db" "$lines" unindexed)

../.build/release/onced apply --dry-run --rules ../rules < "$work/lines.jsonl" > /dev/null 2> "$work/dry.txt"
dry_seconds=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/dry.txt")
dry_rss=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$work/dry.txt")

mkdir -p "$work/redis"
redis-server --port 16390 --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
    --save "" --daemonize yes > /dev/null
until [ "$(redis-cli -p 16390 ping 2>/dev/null)" = PONG ]; do sleep 0.1; done
sha=$(redis-cli -p 16390 SCRIPT LOAD "$(cat redis-set-once.lua)")
redis-benchmark -p 16390 -c 64 -P 16 -n "$lines" -r 100000000 \
    EVALSHA "$sha" 1 "profile:__rand_int__" "Pro" "01/10/2020" 42 true "Cohort 2024 Q1" > "$work/redis.txt" 2>&1
redis_lines=$(awk '/throughput summary/ {print $3}' "$work/redis.txt")
redis-cli -p 16390 shutdown nosave >/dev/null 2>&1 || true

awk -v rl="$redis_lines" -v n="$lines" -v s="$apply_seconds" -v f="$floor_lines" -v fu="$floor_unindexed_lines" -v r="$apply_rss" -v d="$dry_seconds" -v dr="$dry_rss" 'BEGIN {
    l = n / s
    printf "apply --db : %.0f lines/s (%.0f property writes/s; %d lines in %.2f s), peak RSS %d MiB\n", l, l * 5, n, s, r / 1024
    printf "C floor of the same rows: %.0f lines/s; apply %.2fx of it\n", f, l / f
    printf "  the same without the property_values rows queries use: %.0f lines/s (they cost %.0f%%)\n", fu, (1 - f / fu) * 100
    printf "Redis EVALSHA -P 16, appendfsync always: %.0f lines/s; onced apply --db %.0f lines/s: %.2fx (goal >= 1.0x)\n", rl, l, l / rl
    printf "dry-run    : %.0f properties/s, peak RSS %d MiB\n", n * 5 / d, dr / 1024
}'
