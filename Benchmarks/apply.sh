#!/usr/bin/env bash
# onced apply --db on 200,000 set-once lines (5 properties each, new profiles,
# shipped rules on) beside a C program writing the same property rows into the
# same schema (storage v2) as hand-written C in 10,000-row transactions
# (the floor of durable storage here), and beside the same C program also
# writing each line's profile row and request record, as onced must (and
# once more without the (name, value) index, to show what it costs); beside
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
cp "$work/floor.db" "$work/floor-all.db"
cp "$work/floor.db" "$work/floor-unindexed.db"
sqlite3 "$work/floor-unindexed.db" "DROP INDEX properties_by_value"   # what the index for SPEC §8's conditions costs
floor_rows=$(out/sqlite_floor "$work/floor.db" "$lines")
floor_all_rows=$(out/sqlite_floor "$work/floor-all.db" "$lines" all-rows)
floor_unindexed_rows=$(out/sqlite_floor "$work/floor-unindexed.db" "$lines" all-rows)

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

awk -v rl="$redis_lines" -v n="$lines" -v s="$apply_seconds" -v f="$floor_rows" -v fa="$floor_all_rows" -v fu="$floor_unindexed_rows" -v r="$apply_rss" -v d="$dry_seconds" -v dr="$dry_rss" 'BEGIN {
    w = n * 5 / s
    printf "apply --db : %.0f property writes/s (%d lines in %.2f s), peak RSS %d MiB\n", w, n, s, r / 1024
    printf "C floor    : %.0f rows/s\n", f
    printf "ratio      : %.2fx the floor\n", w / f
    printf "C floor with the profile row and request record onced also writes per line: %.0f property rows/s (%.2fx)\n", fa, w / fa
    printf "  the same without the (name, value) index queries use: %.0f property rows/s (the index costs %.0f%%)\n", fu, (1 - fa / fu) * 100
    printf "Redis EVALSHA -P 16, appendfsync always: %.0f lines/s; onced apply --db %.0f lines/s: %.2fx (goal >= 1.0x)\n", rl, n / s, n / s / rl
    printf "dry-run    : %.0f properties/s, peak RSS %d MiB\n", n * 5 / d, dr / 1024
}'
