// The floor of durable storage: the same property rows onced writes, into the
// same schema, with plain INSERT ... ON CONFLICT DO NOTHING in 10,000-row
// transactions (WAL, synchronous=FULL as onced's default).
//
//   sqlite_floor DB PROFILES
// DB must already hold onced's schema; writes PROFILES × 5 rows and prints rows/s.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(x) do { if ((x) != SQLITE_OK) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; } } while (0)

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s DB PROFILES\n", argv[0]); return 2; }
    long profiles = atol(argv[2]);
    sqlite3 *db;
    CHECK(sqlite3_open(argv[1], &db));
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 0, 0, 0));
    sqlite3_stmt *insert;
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO properties (workspace, version, distinct_id, name, type, text, number, instant, list, updated_at) "
        "VALUES ('FY12345678', 'live', ?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7) ON CONFLICT DO NOTHING", -1, &insert, 0));
    static const char *names[5] = { "plan", "signup_date", "ltv", "vip", "cohort" };
    char id[32];
    long rows = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
    for (long p = 0; p < profiles; p++) {
        snprintf(id, sizeof id, "user-%ld", p);
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
    sqlite3_close(db);
    return 0;
}
