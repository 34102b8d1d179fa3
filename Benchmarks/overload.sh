#!/usr/bin/env bash
# onced serve (release, shipped rules, durable) under more load than it can
# take: wrk with 1,024 connections and no backoff, once with the default
# --max-in-flight (256) and once without a bound. Reports acknowledged and shed
# requests per second, latency and peak RSS.
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
(cd .. && swift build -c release --product onced >/dev/null)
ulimit -n 20000
seconds=${SECONDS_PER_RUN:-15}
for limit in 256 1000000000; do
    work=$(mktemp -d)
    ../.build/release/onced serve --db "$work/onced.db" --rules ../rules --port 18481 --max-in-flight "$limit" \
        --api-key FY12345678:bench-key --log-level warning > "$work/onced.log" 2>&1 &
    pid=$!
    until grep -q "listening" "$work/onced.log"; do sleep 0.2; done
    wrk -t2 -c1024 -d"${seconds}s" --latency -s wrk-set-once-statuses.lua http://127.0.0.1:18481 > "$work/wrk.txt" 2>&1
    rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
    kill -TERM $pid; wait $pid || true
    awk -v limit="$limit" -v s="$seconds" -v rss="$rss" '
        $1 == "202:" { ok += $2; shed += $4 }
        $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
        END { printf "--max-in-flight %-10s acknowledged %6.0f/s  shed %6.0f/s  p50 %s  p99 %s  peak RSS %d MiB\n",
              limit, ok / s, shed / s, p50, p99, rss / 1024 }' "$work/wrk.txt"
    rm -rf "$work"
done
