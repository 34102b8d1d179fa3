// The floor of durable storage: the rows onced writes per set-once line, into
// the same schema (storage v2), by hand-written C in 10,000-row transactions
// (WAL, synchronous=FULL as onced's default).
//
//   sqlite_floor DB PROFILES [all-rows]
// DB must already hold onced's schema; writes PROFILES x 5 property rows with
// one 5-row INSERT ... ON CONFLICT DO NOTHING per profile (a new profile's
// set-once, as onced writes it: nothing can be there yet, so no RETURNING), and
// prints property rows/s. With `all-rows`, each profile also writes the two
// rows SPEC §3 makes onced write per request, as onced does: the profile row
// (its id from sqlite3_last_insert_rowid) and the request record (a
// time-ordered id and its compact outcomes).
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x) do { if ((x) != SQLITE_OK) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } } while (0)
#define STEP(s) do { int rc_; while ((rc_ = sqlite3_step(s)) == SQLITE_ROW) {} \
    if (rc_ != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } sqlite3_reset(s); } while (0)

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s DB PROFILES [all-rows]\n", argv[0]); return 2; }
    long profiles = atol(argv[2]);
    int all_rows = argc > 3;
    sqlite3 *db;
    CHECK(sqlite3_open(argv[1], &db));
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
                           "INSERT INTO namespaces (workspace, version) VALUES ('FY12345678', 'live') ON CONFLICT DO NOTHING;"
                           "INSERT INTO property_names (namespace, name, type, registered_at) VALUES"
                           " (1, 'plan', 'string', 0), (1, 'signup_date', 'date', 0), (1, 'ltv', 'number', 0),"
                           " (1, 'vip', 'boolean', 0), (1, 'cohort', 'string', 0) ON CONFLICT DO NOTHING;", 0, 0, 0));
    sqlite3_stmt *insert, *profile, *record;
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO properties (profile, name, value, text, updated_at, request) VALUES "
        "(?1, 1, 'pro', NULL, ?3, ?2), (?1, 2, 1601577000000000, '2020-10-01T18:30:00.000Z', ?3, ?2), "
        "(?1, 3, ?4, NULL, ?3, ?2), (?1, 4, ?5, NULL, ?3, ?2), (?1, 5, 'cohort_2024_q1', NULL, ?3, ?2) "
        "ON CONFLICT DO NOTHING", -1, &insert, 0));
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO profiles (namespace, distinct_id, created_at, updated_at) VALUES (1, ?1, ?2, ?2) "
        "ON CONFLICT DO NOTHING", -1, &profile, 0));
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO requests (id, namespace, received_at, results) VALUES (?1, 1, ?2, ?3)",
                             -1, &record, 0));
    unsigned char request_id[16];
    char results[256], id[32];
    long rows = 0;
    const long long now = 1764400000000LL;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
    for (long p = 0; p < profiles; p++) {
        snprintf(id, sizeof id, "user-%ld", p);
        long long profile_id = p + 1;
        memset(request_id, 0, sizeof request_id);
        long long stamp = now + p;
        for (int b = 0; b < 8; b++) request_id[b] = (unsigned char)(stamp >> (56 - 8 * b));
        if (all_rows) {
            sqlite3_bind_text(profile, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(profile, 2, now);
            STEP(profile);
            if (sqlite3_changes(db) == 1) profile_id = sqlite3_last_insert_rowid(db);
        }
        sqlite3_bind_int64(insert, 1, profile_id);
        sqlite3_bind_blob(insert, 2, request_id, 16, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 3, now);
        sqlite3_bind_int64(insert, 4, p);
        sqlite3_bind_int64(insert, 5, p & 1);
        STEP(insert);
        if (all_rows) {
            snprintf(results, sizeof results, "[[%lld,\"set_once\",[[\"plan\",0],[\"signup_date\",0],[\"ltv\",0],"
                     "[\"vip\",0],[\"cohort\",0]]]]", profile_id);
            sqlite3_bind_blob(record, 1, request_id, 16, SQLITE_STATIC);
            sqlite3_bind_int64(record, 2, now);
            sqlite3_bind_text(record, 3, results, -1, SQLITE_STATIC);
            STEP(record);
        }
        rows += 5;
        if (rows % 10000 == 0) {
            CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0));
            CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
        }
    }
    CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0));
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%.0f\n", rows / seconds);
    sqlite3_finalize(insert);
    sqlite3_finalize(profile);
    sqlite3_finalize(record);
    sqlite3_close(db);
    return 0;
}
