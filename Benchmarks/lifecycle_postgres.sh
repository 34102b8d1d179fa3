#!/usr/bin/env bash
# lifecycle.sh on PostgreSQL: dropping a property that 1,000,000 profiles hold
# while writes go on (wrk, 64 connections, set-once of other properties), beside
# the same run without a drop, on a fresh local cluster (fsync on): how long the
# drop takes to answer, how long the background reclaim of its rows takes, and
# what both cost the writes.
set -euo pipefail
cd "$(dirname "$0")"
if [ -z "${ONCED_TEST_POSTGRES_URL:-}" ]; then exec ../scripts/with-postgres "$(pwd)/$(basename "$0")" "$@"; fi
(cd .. && swift build -c release --product onced >/dev/null)
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
onced=../.build/release/onced
profiles=${PROFILES:-1000000}
seconds=${SECONDS_PER_RUN:-15}
server=${ONCED_TEST_POSTGRES_URL%%\?*}; server=${server%/*}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/no-rules"

for run in "without a drop" "dropping legacy"; do
    name=lifecycle_$RANDOM
    psql -q "$ONCED_TEST_POSTGRES_URL" -c "CREATE DATABASE $name"
    url="$server/$name?sslmode=disable"
    # onced's schema and a registered `legacy`, then a million profiles holding it.
    echo '{"workspace": "FY12345678", "version": "live", "distinct_id": "seed", "$set": {"legacy": "x"}}' |
        "$onced" apply --postgres "$url" --rules "$work/no-rules" > /dev/null 2>&1
    psql -q "$url" -c "INSERT INTO profiles SELECT 'FY12345678', 'live', 'bulk-' || i, 0, 0 FROM generate_series(1, $profiles) i"
    psql -q "$url" -c "INSERT INTO properties (workspace, version, distinct_id, name, type, text, updated_at)
        SELECT 'FY12345678', 'live', 'bulk-' || i, 'legacy', 'string', 'value-' || i, 0 FROM generate_series(1, $profiles) i"
    psql -q "$url" -c "VACUUM ANALYZE"
    "$onced" serve --postgres "$url" --rules ../rules --port 18494 --api-key FY12345678:bench-key --log-level warning > "$work/log" 2>&1 &
    pid=$!
    until grep -q listening "$work/log"; do sleep 0.2; done
    wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18494 > "$work/wrk.txt" &
    load=$!
    drop="" reclaim=""
    if [[ $run == dropping* ]]; then
        sleep 4
        started=$(date +%s.%N)
        drop=$(curl -s -o /dev/null -w '%{time_total}' -X DELETE -H "Authorization: Bearer bench-key" \
            http://127.0.0.1:18494/v1/FY12345678/live/properties/legacy)
        until [ "$(psql -qtA "$url" -c 'SELECT count(*) FROM stale_properties')" = "0" ]; do sleep 0.1; done
        reclaim=$(echo "$(date +%s.%N) - $started" | bc)
    fi
    wait $load
    kill -0 "$pid" 2>/dev/null || { echo "onced exited during the run:"; tail -20 "$work/log"; exit 1; }
    kill -TERM $pid; wait $pid || true
    pid=""
    awk -v run="$run" -v drop="$drop" -v reclaim="$reclaim" -v n="$profiles" '
        /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } $1 == "Latency" && $2 != "Distribution" { max = $4 }
        END {
            printf "%-16s %9s writes/s  p50 %-8s p99 %-8s max %-8s", run, rps, p50, p99, max
            if (drop != "") printf "  drop answered in %.0f ms; %d rows reclaimed in %.1f s (%.0f rows/s)", drop * 1000, n, reclaim, n / reclaim
            printf "\n"
        }' "$work/wrk.txt"
done
