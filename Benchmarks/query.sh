#!/usr/bin/env bash
# Cohort queries (SPEC §8) on 1,000,000 profiles × 10 properties of mixed types
# in SQLite: for each question, the first page (100 profiles) and the full
# count through `onced serve` over HTTP, beside the same question as
# hand-written SQL against a wide table (one row per profile, one column per
# property, an index per queried column) built from the same data in the same
# SQLite library, as a team would lay it out for itself; and through the
# library (`Engine.query`, no HTTP), where the HTTP round trip (~1–2 ms with
# curl here, as for GET /health) is not counted. Then `onced export`
# of every profile, in profiles/s. Times are the best of 5 runs each.
# QUERY_DB=PATH keeps the generated database there and reuses it next time.
set -euo pipefail
cd "$(dirname "$0")"
profiles=${PROFILES:-1000000}
(cd .. && swift build -c release --product onced >/dev/null)
swift build -c release --product query-latency >/dev/null
onced=../.build/release/onced
. ./storage_v2.sh
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/no-rules"
db=${QUERY_DB:-$work/onced.db}
if [ ! -s "$db" ]; then
# The ten names registered with their types and the rows in bulk, in storage v2's layout; onced migrates them.
storage_v2_empty "$db"
sqlite3 "$db" > /dev/null <<SQL
INSERT INTO property_names (namespace, name, type, registered_at) VALUES
    (1, 'plan', 'string', 0), (1, 'email', 'string', 0), (1, 'cohort', 'string', 0), (1, 'country', 'string', 0),
    (1, 'seats', 'number', 0), (1, 'score', 'number', 0), (1, 'beta', 'boolean', 0),
    (1, 'signup', 'date', 0), (1, 'last_seen', 'date', 0), (1, 'tags', 'list', 0);
CREATE TEMP TABLE people AS
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $profiles)
    SELECT i, 'user-' || i AS distinct_id,
        json_extract('["free","pro","team","enterprise","trial"]', '\$[' || (i * 31 % 5) || ']') AS plan,
        'user-' || i || '@example.com' AS email,
        'c-' || (i * 7919 % 1000) AS cohort,
        'k-' || (i * 13 % 50) AS country,
        i * 17 % 100 + 1 AS seats,
        (i * 13 % 1000) / 10.0 + 0.5 AS score,
        i % 2 AS beta,
        1420070400 + (i * 104729 % 315619200) AS signup_s,
        1577836800 + (i * 7727 % 157766400) AS seen_s,
        json_array('t-' || (i % 20), 't-' || (i * 7 % 23)) AS tags
    FROM n;
INSERT INTO profiles (namespace, distinct_id, created_at, updated_at) SELECT 1, distinct_id, 0, 0 FROM people ORDER BY i;
CREATE TEMP TABLE names AS SELECT name, id FROM property_names;
INSERT INTO properties (profile, name, value, text, updated_at)
    SELECT p.id, n.id, CASE n.name
            WHEN 'plan' THEN x.plan WHEN 'email' THEN x.email WHEN 'cohort' THEN x.cohort WHEN 'country' THEN x.country
            WHEN 'seats' THEN x.seats WHEN 'score' THEN x.score WHEN 'beta' THEN x.beta
            WHEN 'signup' THEN x.signup_s * 1000000 WHEN 'last_seen' THEN x.seen_s * 1000000 ELSE x.tags END,
        CASE n.name WHEN 'signup' THEN strftime('%Y-%m-%dT%H:%M:%SZ', x.signup_s, 'unixepoch')
            WHEN 'last_seen' THEN strftime('%Y-%m-%dT%H:%M:%SZ', x.seen_s, 'unixepoch') END, 0
    FROM people x JOIN profiles p ON p.distinct_id = x.distinct_id JOIN names n ORDER BY p.id, n.id;
-- The wide table a team would write, with an index per queried column.
CREATE TABLE wide AS SELECT distinct_id, plan, email, cohort, country, seats, score, beta,
    signup_s * 1000000 AS signup, seen_s * 1000000 AS last_seen, tags FROM people;
CREATE UNIQUE INDEX wide_by_id ON wide (distinct_id);
CREATE INDEX wide_by_cohort ON wide (cohort);
CREATE INDEX wide_by_signup ON wide (signup);
CREATE INDEX wide_by_plan ON wide (plan);
CREATE INDEX wide_by_country ON wide (country);
CREATE INDEX wide_by_seats ON wide (seats);
PRAGMA wal_checkpoint(TRUNCATE);
SQL
storage_v2_migrate "$db" "$work/no-rules" "$profiles" $((profiles * 10))
fi
# The wide table gets an index on email and its planner statistics, as a team
# would give its own table; onced's tables stay as onced leaves them (it never
# runs ANALYZE, and with statistics SQLite had hidden a page that walked every profile).
sqlite3 "$db" > /dev/null <<SQL
CREATE INDEX IF NOT EXISTS wide_by_email ON wide (email);
DROP TABLE IF EXISTS sqlite_stat1;
ANALYZE wide;
SQL

"$onced" serve --db "$db" --rules "$work/no-rules" --port 18495 --api-key FY12345678:bench-key --log-level warning \
    --query-timeout 600 > "$work/log" 2>&1 &
pid=$!
until grep -q listening "$work/log"; do sleep 0.2; done

best() { sort -g | head -1; }
# Seconds of the best of 5 POSTs of $2 to $1.
http() { for _ in 1 2 3 4 5; do curl -s -o "$work/reply" -w '%{time_total}\n' -H "Authorization: Bearer bench-key" \
    -d "$2" "http://127.0.0.1:18495/v1/FY12345678/live/profiles/$1"; done | best; }
# Seconds of the best of 5 runs of the SQL $1 against the wide table (Python's sqlite3: the same system SQLite onced links).
wide() { python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
best = min((lambda t: (db.execute(sys.argv[2]).fetchall(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(best)' "$db" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }

printf '%-34s | %-30s | %-30s | %-30s | %-20s | %s\n' question "page: HTTP / library / wide" "ratio HTTP / library to wide" "count: HTTP / library / wide" "ratio HTTP / library" matches
run() {
    local name=$1 filter=$2 where=$3
    local page count wide_page wide_count matches library
    page=$(http query "{\"where\": $filter, \"limit\": 100}")
    count=$(http count "{\"where\": $filter}")
    matches=$(sed -n 's/.*"count":\([0-9]*\).*/\1/p' "$work/reply")
    read -r library_page library_count < <(.build/release/query-latency "$db" "$filter")
    wide_page=$(wide "SELECT * FROM wide WHERE $where ORDER BY distinct_id LIMIT 100")
    wide_count=$(wide "SELECT count(*) FROM wide WHERE $where")
    printf '%-34s | %-30s | %-30s | %-30s | %-20s | %s\n' "$name" \
        "$(ms "$page") / $(ms "$library_page") / $(ms "$wide_page")" \
        "$(ratio "$page" "$wide_page") / $(ratio "$library_page" "$wide_page")" \
        "$(ms "$count") / $(ms "$library_count") / $(ms "$wide_count")" \
        "$(ratio "$count" "$wide_count") / $(ratio "$library_count" "$wide_count")" "$matches"
}
run "equality, 1 profile (email)" '{"property": "email", "op": "eq", "value": "user-77@example.com"}' "email = 'user-77@example.com'"
run "equality, ~0.1% (cohort)" '{"property": "cohort", "op": "eq", "value": "c-42"}' "cohort = 'c-42'"
run "date range, ~10% (signup >= 2024)" '{"property": "signup", "op": "gte", "value": "2024-01-01"}' "signup >= 1704067200000000"
run "list contains, ~9% (tags)" '{"property": "tags", "op": "contains", "value": "t-7"}' \
    "EXISTS (SELECT 1 FROM json_each(tags) WHERE value = 't-7')"
run "and/or of three" '{"and": [{"property": "plan", "op": "eq", "value": "pro"}, {"or": [{"property": "country", "op": "eq", "value": "k-3"}, {"property": "seats", "op": "gt", "value": 95}]}]}' \
    "plan = 'pro' AND (country = 'k-3' OR seats > 95)"
# The date range's page walks the profiles and tests each one's value in its blob: the same walk with
# that test in C (c/probe_floor.c) is its floor, without the sizing of the condition or the projection.
mkdir -p out
cc -O2 -o out/probe_floor c/probe_floor.c -lsqlite3
signup=$(sqlite3 "$db" "SELECT id FROM property_names WHERE namespace = 1 AND name = 'signup'")
awk -v s="$(out/probe_floor "$db" "$signup" 1704067200000000)" -v w="$(wide "SELECT * FROM wide WHERE signup >= 1704067200000000 ORDER BY distinct_id LIMIT 100")" \
    'BEGIN { printf "date range page, the walk alone in C: %.2f ms, %.2f× the wide table (%.2f ms)\n", s * 1000, s / w, w * 1000 }'

# Writes (wrk, 64 connections of set-once on new profiles) alone, then while counts of the list
# question run back to back: a count reads a WAL snapshot and never holds the write lock.
# They go to the namespace's `test` version, so they leave the queried data as it was for the next run.
sed 's|/live/|/test/|' wrk-set-once.lua > "$work/wrk-set-once-test.lua"
writes() { wrk -t2 -c64 -d10s -s "$work/wrk-set-once-test.lua" http://127.0.0.1:18495 | awk '/Requests\/sec/ { print $2 }'; }
alone=$(writes)
( while :; do curl -s -o /dev/null -H "Authorization: Bearer bench-key" \
    -d '{"where": {"property": "tags", "op": "contains", "value": "t-7"}}' http://127.0.0.1:18495/v1/FY12345678/live/profiles/count
    echo >> "$work/counts"; done ) &
counting=$!
during=$(writes)
kill $counting; wait $counting 2>/dev/null || true
awk -v a="$alone" -v d="$during" -v c="$(wc -l < "$work/counts")" \
    'BEGIN { printf "writes: %.0f/s alone, %.0f/s during %d back-to-back counts (%.2f×)\n", a, d, c, d / a }'

kill -TERM $pid; wait $pid || true
pid=""
# Each write keeps a request record: without this a reused file grew by ~200,000 of them a run,
# and later runs read a different file. The test namespace's records go; its profiles are reused.
sqlite3 "$db" "DELETE FROM requests WHERE namespace IN (SELECT id FROM namespaces WHERE version = 'test')"
started=$(date +%s.%N)
exported=$("$onced" export --db "$db" --workspace FY12345678 --version live | wc -l)
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
awk -v n="$exported" -v s="$elapsed" 'BEGIN { printf "export: %d profiles in %.1f s, %.0f profiles/s\n", n, s, n / s }'
