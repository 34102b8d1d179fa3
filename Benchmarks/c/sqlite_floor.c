// The floor of durable storage: the rows onced writes per set-once line of
// five properties on a new profile, into the same schema (storage v3), by
// hand-written C in transactions of 2,000 lines (WAL, synchronous=FULL as
// onced's default): the profile row with its values inline (a `props` blob of
// the size onced writes: five entries with provenance), one 5-row insert into
// `property_values` (the index rows SPEC §8's conditions use), and the request
// record (a time-ordered id and its compact outcomes).
//
//   sqlite_floor DB LINES [unindexed]
// DB must already hold onced's schema; prints lines/s. With `unindexed`, the
// `property_values` rows are not written, to show what they cost.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x) do { if ((x) != SQLITE_OK) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } } while (0)
#define STEP(s) do { int rc_; while ((rc_ = sqlite3_step(s)) == SQLITE_ROW) {} \
    if (rc_ != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } sqlite3_reset(s); } while (0)

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s DB LINES [unindexed]\n", argv[0]); return 2; }
    long lines = atol(argv[2]);
    int indexed = argc <= 3;
    sqlite3 *db;
    CHECK(sqlite3_open(argv[1], &db));
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
                           "INSERT INTO namespaces (workspace, version) VALUES ('FY12345678', 'live') ON CONFLICT DO NOTHING;"
                           "INSERT INTO property_names (namespace, name, type, registered_at) VALUES"
                           " (1, 'plan', 'string', 0), (1, 'signup_date', 'date', 0), (1, 'ltv', 'number', 0),"
                           " (1, 'vip', 'boolean', 0), (1, 'cohort', 'string', 0) ON CONFLICT DO NOTHING;", 0, 0, 0));
    sqlite3_stmt *profile, *values, *record;
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO profiles (namespace, distinct_id, created_at, updated_at, props) VALUES (1, ?1, ?2, ?2, ?3)",
                             -1, &profile, 0));
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO property_values (name, value, profile) VALUES "
                             "(1, 'pro', ?1), (2, 1601577000000000, ?1), (3, ?2, ?1), (4, ?3, ?1), (5, 'cohort_2024_q1', ?1)",
                             -1, &values, 0));
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO requests (id, namespace, received_at, results) VALUES (?1, 1, ?2, ?3)", -1, &record, 0));
    // Five entries as onced packs them: name, tag, payload, updated_at, the request's 16 bytes.
    unsigned char props[256];
    int props_size = 1 + (2 + 4 + 6 + 17) + (2 + 8 + 25 + 6 + 17) + (2 + 8 + 6 + 17) + (2 + 6 + 17) + (2 + 15 + 6 + 17);
    memset(props, 7, sizeof props);
    props[0] = 1;
    unsigned char request_id[16];
    char results[256], id[32];
    const long long now = 1764400000000LL;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
    for (long p = 0; p < lines; p++) {
        snprintf(id, sizeof id, "user-%ld", p);
        memset(request_id, 0, sizeof request_id);
        long long stamp = now + p;
        for (int b = 0; b < 8; b++) request_id[b] = (unsigned char)(stamp >> (56 - 8 * b));
        memcpy(props + 40, request_id, 16);
        sqlite3_bind_text(profile, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(profile, 2, now);
        sqlite3_bind_blob(profile, 3, props, props_size, SQLITE_STATIC);
        STEP(profile);
        long long profile_id = sqlite3_last_insert_rowid(db);
        if (indexed) {
            sqlite3_bind_int64(values, 1, profile_id);
            sqlite3_bind_int64(values, 2, p);
            sqlite3_bind_int64(values, 3, p & 1);
            STEP(values);
        }
        snprintf(results, sizeof results, "[[%lld,\"set_once\",[[\"plan\",0],[\"signup_date\",0],[\"ltv\",0],"
                 "[\"vip\",0],[\"cohort\",0]]]]", profile_id);
        sqlite3_bind_blob(record, 1, request_id, 16, SQLITE_STATIC);
        sqlite3_bind_int64(record, 2, now);
        sqlite3_bind_text(record, 3, results, -1, SQLITE_STATIC);
        STEP(record);
        if ((p + 1) % 2000 == 0) {
            CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0));
            CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
        }
    }
    CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0));
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%.0f\n", lines / seconds);
    sqlite3_finalize(profile);
    sqlite3_finalize(values);
    sqlite3_finalize(record);
    sqlite3_close(db);
    return 0;
}
