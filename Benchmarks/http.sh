#!/usr/bin/env bash
# onced serve (release, shipped rules, durable 202) under wrk, beside the peers
# a team would use instead, all with the same five-property set-once and the
# same normalization, 64 connections, in one run:
#   - webdis (a C HTTP front for Redis) -> Redis appendfsync always, EVALSHA of
#     redis-set-once.lua (normalize + HSETNX): durable before it answers, as onced;
#   - Redis EVALSHA over its own protocol (redis-benchmark), appendfsync always and everysec;
#   - onced's own GET /health: its HTTP stack alone, the ceiling for any endpoint.
# For onced it also prints the CPU per request of each thread group, from
# /proc (writer: the SQLite commit and checkpoint queues; pool: Swift's
# cooperative threads, where decode, rules and validation run; event loops: NIO),
# and the context switches per request (all threads, voluntary + involuntary).
set -euo pipefail
cd "$(dirname "$0")"
for tool in wrk redis-server redis-benchmark webdis; do
    command -v "$tool" >/dev/null || { echo "installing wrk, redis-server and webdis"; apt-get install -y -qq wrk redis-server webdis >/dev/null; break; }
done
(cd .. && swift build -c release --product onced >/dev/null)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
seconds=${SECONDS_PER_RUN:-15}

# Context switches so far, summed over the threads of process $1.
switches() {
    cat /proc/"$1"/task/*/status | awk '/^(non)?voluntary_ctxt_switches/ {total += $2} END {print total}'
}

# CPU seconds (utime + stime) of each thread group of process $1: writer, pool, loops, other.
thread_cpu() {
    local ticks
    ticks=$(getconf CLK_TCK)
    for stat in /proc/"$1"/task/*/stat; do
        local comm fields
        comm=$(sed 's/^[0-9]* (\(.*\)) .*/\1/' "$stat")
        fields=$(sed 's/^.*) //' "$stat")
        set -- $fields
        echo "$comm ${12} ${13}"
    done | awk -v t="$ticks" '{
        group = "other"
        if ($1 ~ /^NIO-/) group = "loops"
        else if ($1 ~ /overcommit/) group = "writer"
        else if ($1 ~ /default-qos|user-initiated|utility/) group = "pool"
        cpu[group] += ($2 + $3) / t
    } END { printf "%.3f %.3f %.3f %.3f\n", cpu["writer"], cpu["pool"], cpu["loops"], cpu["other"] }'
}

../.build/release/onced serve --db "$work/onced.db" --rules ../rules --port 18480 \
    --api-key FY12345678:bench-key --log-level warning > "$work/onced.log" 2>&1 &
onced_pid=$!
pids+=("$onced_pid")
until grep -q "listening" "$work/onced.log"; do sleep 0.2; done
read -r w0 p0 l0 o0 < <(thread_cpu "$onced_pid")
s0=$(switches "$onced_pid")
wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18480 > "$work/wrk.txt"
read -r w1 p1 l1 o1 < <(thread_cpu "$onced_pid")
s1=$(switches "$onced_pid")
wrk -t2 -c64 -d"${seconds}s" http://127.0.0.1:18480/health > "$work/health.txt"
onced_rss=$(awk '/VmHWM/ {print $2}' /proc/$onced_pid/status)
kill -TERM $onced_pid; wait $onced_pid || true
onced_requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
onced_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
onced_p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
onced_p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$work/wrk.txt" || true)
health_rps=$(awk '/Requests\/sec/ {print $2}' "$work/health.txt")

# Redis, durable per command (appendfsync always) behind webdis, then natively.
start_redis() {  # each start on an empty directory of its own
    local dir
    dir=$(mktemp -d -p "$work")
    redis-server --port 16380 --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync "$1" \
        --save "" --daemonize no > "$dir/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    until [ "$(redis-cli -p 16380 ping 2>/dev/null)" = PONG ]; do sleep 0.1; done
    sha=$(redis-cli -p 16380 SCRIPT LOAD "$(cat redis-set-once.lua)")
}
stop_redis() { redis-cli -p 16380 shutdown nosave >/dev/null 2>&1 || true; wait "$redis_pid" 2>/dev/null || true; }

start_redis always
cat > "$work/webdis.json" <<JSON
{"redis_host": "127.0.0.1", "redis_port": 16380, "http_host": "127.0.0.1", "http_port": 17379,
 "threads": 2, "pool_size": 64, "daemonize": false, "database": 0, "verbosity": 0, "logfile": "$work/webdis.log"}
JSON
webdis "$work/webdis.json" &
webdis_pid=$!
pids+=("$webdis_pid")
until curl -s -o /dev/null http://127.0.0.1:17379/PING; do sleep 0.1; done
SET_ONCE_SHA=$sha wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-webdis-set-once.lua http://127.0.0.1:17379 > "$work/webdis.txt"
kill $webdis_pid; wait $webdis_pid 2>/dev/null || true
webdis_rps=$(awk '/Requests\/sec/ {print $2}' "$work/webdis.txt")
webdis_p50=$(awk '$1 == "50%" {print $2}' "$work/webdis.txt")
webdis_p99=$(awk '$1 == "99%" {print $2}' "$work/webdis.txt")
webdis_errors=$(grep -E "Non-2xx|Socket errors" "$work/webdis.txt" || true)

redis_native() {  # $1: appendfsync policy; prints "req/s p50 p99"
    start_redis "$1"
    local requests
    requests=$(awk -v r="$onced_rps" -v s="$seconds" 'BEGIN { n = int(r * s); if (n < 200000) n = 200000; print n }')
    redis-benchmark -p 16380 -c 64 -n "$requests" -r 100000000 \
        EVALSHA "$sha" 1 "profile:__rand_int__" "Pro" "01/10/2020" 42 true "Cohort 2024 Q1" > "$work/redis.txt" 2>&1
    stop_redis
    local rps p50 p99
    rps=$(awk '/throughput summary/ {print $3}' "$work/redis.txt")
    read -r _ _ p50 _ p99 _ < <(awk '/latency summary/ {getline; getline; print}' "$work/redis.txt")
    echo "$rps $p50 $p99"
}
stop_redis
read -r always_rps always_p50 always_p99 < <(redis_native always)
read -r everysec_rps everysec_p50 everysec_p99 < <(redis_native everysec)

echo "onced serve                        : $onced_rps req/s, p50 $onced_p50, p99 $onced_p99, peak RSS $((onced_rss / 1024)) MiB ${errors:+($errors)}"
awk -v n="$onced_requests" -v w="$w1 $w0" -v p="$p1 $p0" -v l="$l1 $l0" -v o="$o1 $o0" -v s="$s1 $s0" '
    function used(pair) { split(pair, v, " "); return (v[1] - v[2]) * 1e6 / n }
    BEGIN { printf "  CPU per request: writer %.1f us, pool %.1f us, event loops %.1f us, other %.1f us; %.2f context switches per request\n",
                   used(w), used(p), used(l), used(o), used(s) / 1e6 }'
echo "webdis -> Redis (appendfsync always): $webdis_rps req/s, p50 $webdis_p50, p99 $webdis_p99 ${webdis_errors:+($webdis_errors)}"
echo "Redis EVALSHA, appendfsync always  : $always_rps req/s, p50 ${always_p50} ms, p99 ${always_p99} ms"
echo "Redis EVALSHA, appendfsync everysec: $everysec_rps req/s, p50 ${everysec_p50} ms, p99 ${everysec_p99} ms"
echo "onced GET /health (its HTTP stack alone): $health_rps req/s"
awk -v a="$onced_rps" -v b="$webdis_rps" -v c="$always_rps" -v d="$everysec_rps" -v h="$health_rps" 'BEGIN {
    printf "ratios: onced/webdis %.2fx (goal >= 1.0x); onced/Redis always %.2fx, everysec %.2fx; GET /health/webdis %.2fx\n",
           a / b, a / c, a / d, h / b }'
