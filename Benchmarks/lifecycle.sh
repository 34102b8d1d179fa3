#!/usr/bin/env bash
# Dropping a property that 1,000,000 profiles hold, while writes go on (SPEC §9):
# how long the drop itself takes to answer, how long the background reclaim of
# its rows takes, and the write latency under wrk (64 connections, set-once of
# other properties) during it, beside the same run without a drop.
set -euo pipefail
cd "$(dirname "$0")"
(cd .. && swift build -c release --product onced >/dev/null)
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v sqlite3 >/dev/null || apt-get install -y -qq sqlite3 >/dev/null
onced=../.build/release/onced
. ./storage_v2.sh
profiles=${PROFILES:-1000000}
seconds=${SECONDS_PER_RUN:-20}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# A registered `legacy` and a million profiles holding it, bulk-written by sqlite3 in storage v2's layout.
mkdir "$work/no-rules"
storage_v2_empty "$work/base.db"
sqlite3 "$work/base.db" > /dev/null <<SQL
INSERT INTO property_names (namespace, name, type, registered_at) VALUES (1, 'legacy', 'string', 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $profiles)
INSERT INTO profiles (namespace, distinct_id, created_at, updated_at) SELECT 1, 'bulk-' || i, 0, 0 FROM n;
INSERT INTO properties (profile, name, value, updated_at)
    SELECT p.id, (SELECT id FROM property_names WHERE name = 'legacy'), 'value-' || p.id, 0 FROM profiles p;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
storage_v2_migrate "$work/base.db" "$work/no-rules" "$profiles" "$profiles"

for run in "without a drop" "dropping legacy"; do
    rm -f "$work"/run.db*
    cp "$work/base.db" "$work/run.db"
    "$onced" serve --db "$work/run.db" --rules ../rules --port 18493 --api-key FY12345678:bench-key --log-level warning > "$work/log" 2>&1 &
    pid=$!
    until grep -q listening "$work/log"; do sleep 0.2; done
    wrk -t2 -c64 -d"${seconds}s" --latency -s wrk-set-once.lua http://127.0.0.1:18493 > "$work/wrk.txt" &
    load=$!
    drop="" reclaim=""
    if [[ $run == dropping* ]]; then
        sleep 3
        started=$(date +%s.%N)
        drop=$(curl -s -o /dev/null -w '%{time_total}' -X DELETE -H "Authorization: Bearer bench-key" \
            http://127.0.0.1:18493/v1/FY12345678/live/properties/legacy)
        until [ "$(sqlite3 "$work/run.db" 'SELECT count(*) FROM dropped_names' 2>/dev/null)" = "0" ]; do sleep 0.1; done
        reclaim=$(echo "$(date +%s.%N) - $started" | bc)
    fi
    wait $load
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
