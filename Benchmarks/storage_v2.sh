# Sourced by the benchmarks that bulk-load a large SQLite file. Storage v3 packs
# a profile's values into one blob that only onced writes, so these benchmarks
# write their rows in storage v2's plain layout (a row per value, in
# `properties`) and let onced migrate the file, which times the migration too.

# An empty storage v2 file at $1: a copy of the last v2 release's fixture with
# every row of data removed. Its schema and namespaces stay (namespace 1 is
# FY12345678/live).
storage_v2_empty() {
    cp ../Tests/Fixtures/storage-v5/onced.db "$1"
    chmod u+w "$1"
    sqlite3 "$1" > /dev/null <<'SQL'
PRAGMA journal_mode = WAL;
DELETE FROM properties; DELETE FROM profiles; DELETE FROM requests; DELETE FROM record_mentions;
DELETE FROM property_names; DELETE FROM dropped_names; DELETE FROM api_keys; DELETE FROM sqlite_sequence;
DROP INDEX properties_by_value;  -- the migration drops `properties` whole; loading is faster without it
SQL
}

# Migrates the storage v2 file $1 by opening it with `onced apply` (rules directory $2)
# and prints how long that took for $3 profiles holding $4 values.
storage_v2_migrate() {
    local started elapsed
    started=$(date +%s.%N)
    "$onced" apply --db "$1" --rules "$2" < /dev/null > /dev/null 2>&1
    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    awk -v s="$elapsed" -v p="$3" -v v="$4" \
        'BEGIN { printf "migration to storage v3: %d profiles, %d values in %.1f s (%.0f values/s)\n", p, v, s, v / s }'
}
