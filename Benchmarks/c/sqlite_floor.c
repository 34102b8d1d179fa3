// The floor of durable storage: the same property rows onced writes, into the
// same schema, with plain INSERT ... ON CONFLICT DO NOTHING in 10,000-row
// transactions (WAL, synchronous=FULL as onced's default).
//
//   sqlite_floor DB PROFILES [all-rows]
// DB must already hold onced's schema; writes PROFILES × 5 rows and prints
// property rows/s. With `all-rows`, each profile also writes the two rows
// SPEC §3 makes onced write per request: the profile row and the request
// record (a time-ordered id and its outcomes, as onced stores them).
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(x) do { if ((x) != SQLITE_OK) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } } while (0)

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s DB PROFILES [all-rows]\n", argv[0]); return 2; }
    long profiles = atol(argv[2]);
    int all_rows = argc > 3;
    sqlite3 *db;
    CHECK(sqlite3_open(argv[1], &db));
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 0, 0, 0));
    sqlite3_stmt *insert;
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO properties (workspace, version, distinct_id, name, type, text, number, instant, list, updated_at) "
        "VALUES ('FY12345678', 'live', ?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7) ON CONFLICT DO NOTHING", -1, &insert, 0));
    sqlite3_stmt *profile, *record;
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO profiles (workspace, version, distinct_id, created_at, updated_at) "
        "VALUES ('FY12345678', 'live', ?1, ?2, ?2) ON CONFLICT DO NOTHING", -1, &profile, 0));
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO requests (workspace, version, id, received_at, results) VALUES ('FY12345678', 'live', ?1, ?2, ?3)",
        -1, &record, 0));
    char request_id[48], results[512];
    static const char *names[5] = { "plan", "signup_date", "ltv", "vip", "cohort" };
    char id[32];
    long rows = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
    for (long p = 0; p < profiles; p++) {
        snprintf(id, sizeof id, "user-%ld", p);
        if (all_rows) {
            sqlite3_bind_text(profile, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(profile, 2, 1764400000000LL);
            if (sqlite3_step(profile) != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
            sqlite3_reset(profile);
            snprintf(request_id, sizeof request_id, "019ad0f1-%04lx-7%03lx-8000-%012lx", (p >> 12) & 0xffff, p & 0xfff, p);
            snprintf(results, sizeof results, "[{\"distinct_id\":\"%s\",\"op\":\"set_once\",\"properties\":{"
                     "\"plan\":{\"outcome\":\"set\"},\"signup_date\":{\"outcome\":\"set\"},\"ltv\":{\"outcome\":\"set\"},"
                     "\"vip\":{\"outcome\":\"set\"},\"cohort\":{\"outcome\":\"set\"}}}]", id);
            sqlite3_bind_text(record, 1, request_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(record, 2, 1764400000000LL);
            sqlite3_bind_text(record, 3, results, -1, SQLITE_STATIC);
            if (sqlite3_step(record) != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
            sqlite3_reset(record);
        }
        for (int n = 0; n < 5; n++) {
            sqlite3_bind_text(insert, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 2, names[n], -1, SQLITE_STATIC);
            sqlite3_bind_null(insert, 4); sqlite3_bind_null(insert, 5); sqlite3_bind_null(insert, 6);
            switch (n) {
            case 0: sqlite3_bind_text(insert, 3, "string", -1, SQLITE_STATIC); sqlite3_bind_text(insert, 4, "pro", -1, SQLITE_STATIC); break;
            case 1: sqlite3_bind_text(insert, 3, "date", -1, SQLITE_STATIC);
                    sqlite3_bind_text(insert, 4, "2020-10-01T18:30:00.000Z", -1, SQLITE_STATIC);
                    sqlite3_bind_int64(insert, 6, 1601577000000000LL); break;
            case 2: sqlite3_bind_text(insert, 3, "number", -1, SQLITE_STATIC); sqlite3_bind_int64(insert, 5, p); break;
            case 3: sqlite3_bind_text(insert, 3, "boolean", -1, SQLITE_STATIC); sqlite3_bind_int64(insert, 5, p & 1); break;
            case 4: sqlite3_bind_text(insert, 3, "string", -1, SQLITE_STATIC); sqlite3_bind_text(insert, 4, "cohort_2024_q1", -1, SQLITE_STATIC); break;
            }
            sqlite3_bind_int64(insert, 7, 1764400000000LL);
            if (sqlite3_step(insert) != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
            sqlite3_reset(insert);
            if (++rows % 10000 == 0) {
                CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0));
                CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
            }
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
