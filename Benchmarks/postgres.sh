#!/usr/bin/env bash
# HTTP set-once on PostgreSQL, in one run on a fresh local cluster (fsync on,
# synchronous_commit on): one `onced serve` and two on the same database,
# under wrk at 64 connections in all (release build, shipped rules), beside
# pgbench running the equivalent INSERT … ON CONFLICT DO NOTHING directly —
# one 5-row statement per transaction, and five 1-row statements — at -c 8.
set -euo pipefail
cd "$(dirname "$0")"
if [ -z "${ONCED_TEST_POSTGRES_URL:-}" ]; then exec ../scripts/with-postgres "$(pwd)/$(basename "$0")" "$@"; fi
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
(cd .. && swift build -c release --product onced >/dev/null)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
seconds=${SECONDS_PER_RUN:-15}
server=${ONCED_TEST_POSTGRES_URL%%\?*}; server=${server%/*}

fresh_db() {  # a new database; prints its URL
    psql -q "$ONCED_TEST_POSTGRES_URL" -c "CREATE DATABASE $1"
    echo "$server/$1?sslmode=disable"
}

serve() {  # serve URL PORT: starts a daemon, waits until it listens
    ../.build/release/onced serve --postgres "$1" --rules ../rules --port "$2" \
        --api-key FY12345678:bench-key --log-level warning > "$work/onced-$2.log" 2>&1 &
    pids+=($!)
    until grep -q "listening" "$work/onced-$2.log"; do sleep 0.2; done
}

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
summary() { awk '/Requests\/sec/ {r=$2} $1 == "50%" {p50=$2} $1 == "99%" {p99=$2} /Non-2xx/ {e=" (" $0 ")"} END {printf "%s req/s, p50 %s, p99 %s%s", r, p50, p99, e}' "$1"; }

# One daemon.
url=$(fresh_db bench_one)
serve "$url" 18481
wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18481 > "$work/one.txt"
kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; pids=()
one=$(rps "$work/one.txt")

# Two daemons on one database, 32 connections each.
url=$(fresh_db bench_two)
serve "$url" 18482
serve "$url" 18483
wrk -t1 -c32 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18482 > "$work/two-a.txt" &
wrk_pid=$!
wrk -t1 -c32 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18483 > "$work/two-b.txt"
wait $wrk_pid
kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; pids=()
two=$(awk -v a="$(rps "$work/two-a.txt")" -v b="$(rps "$work/two-b.txt")" 'BEGIN { print a + b }')

# The floor: the same rows, straight into the same schema (onced creates it).
url=$(fresh_db bench_floor)
../.build/release/onced keys create FY12345678 --postgres "$url" > /dev/null
values() {  # the five rows of one request for distinct_id expression $1
    echo "('FY12345678','live',$1,'plan','string','Pro',NULL,NULL,NULL,NULL,NULL,0),
          ('FY12345678','live',$1,'signup_date','date','2020-10-01',NULL,NULL,1601510400000000,NULL,NULL,0),
          ('FY12345678','live',$1,'ltv','number',NULL,42,false,NULL,NULL,NULL,0),
          ('FY12345678','live',$1,'vip','boolean',NULL,1,false,NULL,NULL,NULL,0),
          ('FY12345678','live',$1,'cohort','string','Cohort 2024 Q1',NULL,NULL,NULL,NULL,NULL,0)"
}
columns="INSERT INTO properties (workspace, version, distinct_id, name, type, text, number, fractional, instant, list, list_keys, updated_at) VALUES"
id="'u' || :client_id || '-' || :id"
{ echo '\set id random(1, 1000000000)'; echo "$columns $(values "$id") ON CONFLICT DO NOTHING;" | tr -s ' \n' ' '; echo; } > "$work/one-statement.sql"
{ echo '\set id random(1, 1000000000)'; echo 'BEGIN;'
  values "$id" | sed 's/),$/)/' | while read -r row; do echo "$columns $row ON CONFLICT DO NOTHING;"; done
  echo 'COMMIT;'; } > "$work/five-statements.sql"
pgbench -n -c 8 -j 2 -T "$seconds" -f "$work/one-statement.sql" "$url" > "$work/pgbench-one.txt" 2>&1
pgbench -n -c 8 -j 2 -T "$seconds" -f "$work/five-statements.sql" "$url" > "$work/pgbench-five.txt" 2>&1
floor=$(awk '/^tps/ {print int($3)}' "$work/pgbench-one.txt")
five=$(awk '/^tps/ {print int($3)}' "$work/pgbench-five.txt")

echo "onced serve, 1 process : $(summary "$work/one.txt")"
echo "onced serve, 2 processes: $two req/s ($(summary "$work/two-a.txt") | $(summary "$work/two-b.txt"))"
echo "pgbench -c 8, one 5-row INSERT … ON CONFLICT DO NOTHING: $floor tps"
echo "pgbench -c 8, five 1-row INSERTs in a transaction      : $five tps"
awk -v a="$one" -v b="$two" -v f="$floor" 'BEGIN {
    printf "ratios: 1 process / pgbench one-statement %.2fx; 2 processes / 1 process %.2fx\n", a / f, b / a }'
