#!/usr/bin/env bash
# onced serve (release, shipped rules, durable) under wrk, beside Redis 7
# (appendonly yes, appendfsync everysec) running the same normalize-and-HSETNX
# as EVALSHA under redis-benchmark; both at 64 connections, in one run.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
for tool in wrk redis-server redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "installing wrk and redis-server"; apt-get install -y -qq wrk redis-server >/dev/null; break; }
done
(cd .. && swift build -c release --product onced >/dev/null)
work=$(mktemp -d)
trap 'kill $onced_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT
seconds=${SECONDS_PER_RUN:-15}

../.build/release/onced serve --db "$work/onced.db" --rules ../rules --port 18480 \
    --api-key FY12345678:bench-key --log-level warning > "$work/onced.log" 2>&1 &
onced_pid=$!
until grep -q "listening" "$work/onced.log"; do sleep 0.2; done
wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18480 > "$work/wrk.txt"
# The same daemon answering GET /health (no body, no engine, no store): what
# its HTTP stack alone serves on this machine, the ceiling for any endpoint.
wrk -t2 -c64 -d"${seconds}s" http://127.0.0.1:18480/health > "$work/health.txt"
onced_rss=$(awk '/VmHWM/ {print $2}' /proc/$onced_pid/status)
kill -TERM $onced_pid; wait $onced_pid || true
onced_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
onced_p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
onced_p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$work/wrk.txt" || true)
health_rps=$(awk '/Requests\/sec/ {print $2}' "$work/health.txt")

redis-server --port 16380 --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync everysec \
    --save "" --daemonize no > "$work/redis.log" 2>&1 &
redis_pid=$!
until redis-cli -p 16380 ping >/dev/null 2>&1; do sleep 0.1; done
sha=$(redis-cli -p 16380 SCRIPT LOAD "$(cat redis-set-once.lua)")
requests=$(awk -v r="$onced_rps" -v s="$seconds" 'BEGIN { n = int(r * s); if (n < 200000) n = 200000; print n }')
redis-benchmark -p 16380 -c 64 -n "$requests" -r 100000000 \
    EVALSHA "$sha" 1 "profile:__rand_int__" " Pro " "01/10/2020" 42 true "Cohort 2024 Q1" > "$work/redis.txt" 2>&1
redis_rps=$(awk '/throughput summary/ {print $3}' "$work/redis.txt")
read -r _ _ redis_p50 _ redis_p99 _ < <(awk '/latency summary/ {getline; getline; print}' "$work/redis.txt")

echo "onced serve : $onced_rps req/s, p50 $onced_p50, p99 $onced_p99, peak RSS $((onced_rss / 1024)) MiB ${errors:+($errors)}"
echo "redis EVALSHA: $redis_rps req/s, p50 ${redis_p50} ms, p99 ${redis_p99} ms"
echo "onced GET /health (its HTTP stack alone): $health_rps req/s"
awk -v a="$onced_rps" -v b="$redis_rps" -v h="$health_rps" 'BEGIN {
    printf "ratio onced/redis: %.2fx (GET /health/redis: %.2fx)\n", a / b, h / b }'
