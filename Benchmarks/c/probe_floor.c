// The floor of a page that walks the profiles in distinct_id order and tests
// each one's own value (SQLiteFilter's probe form): the same statement onced
// prepares, with `onced_value(props, name)` written in C, run on the same
// file, best of 20. What stays above it in onced is its own: the Swift reading
// of the blob, the read transaction, the page's projection.
//
//   probe_floor DB NAME_ID INSTANT     prints the milliseconds of a page of
//                                      profiles whose value is >= INSTANT
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// A varint at *at, moving past it; 0 when the blob ends first.
static int varint(const unsigned char *blob, int size, int *at, uint64_t *value) {
    *value = 0;
    for (int shift = 0; shift < 64 && *at < size; shift += 7) {
        unsigned char byte = blob[(*at)++];
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) return 1;
    }
    return 0;
}

// Storage v3's entries (PackedValues.swift): name, tag, payload, updated_at, provenance.
// Only what this page needs: an integer or a date's instant.
static void onced_value(sqlite3_context *context, int argc, sqlite3_value **argv) {
    const unsigned char *blob = sqlite3_value_blob(argv[0]);
    int size = sqlite3_value_bytes(argv[0]), at = 1;
    int64_t wanted = sqlite3_value_int64(argv[1]);
    uint64_t name, length, time;
    while (blob && at < size && varint(blob, size, &at, &name) && at < size) {
        unsigned char tag = blob[at++];
        int payload = at;
        if (tag == 1 || tag == 2) at += 8;
        else if ((tag == 3 || tag == 7) && varint(blob, size, &at, &length)) at += (int)length;
        else if (tag == 6 && (at += 8) <= size && varint(blob, size, &at, &length)) at += (int)length;
        if (at > size) break;
        if ((int64_t)name == wanted && (tag == 1 || tag == 6)) {
            int64_t value = 0;
            for (int i = 0; i < 8; i++) value |= (int64_t)blob[payload + i] << (8 * i);
            sqlite3_result_int64(context, value);
            return;
        }
        if (!varint(blob, size, &at, &time) || at >= size) break;
        at += blob[at] == 1 ? 17 : 1;
    }
    sqlite3_result_null(context);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s DB NAME_ID INSTANT\n", argv[0]); return 2; }
    sqlite3 *db;
    sqlite3_stmt *page;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, 0) != SQLITE_OK
        || sqlite3_create_function_v2(db, "onced_value", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, 0, onced_value, 0, 0, 0) != SQLITE_OK
        || sqlite3_prepare_v2(db, "SELECT p.id, p.distinct_id, p.created_at, p.updated_at FROM profiles p"
                                  " WHERE p.namespace = 1 AND p.distinct_id > '' AND EXISTS (SELECT 1 FROM"
                                  " (SELECT onced_value(p.props, ?1) AS value) v WHERE v.value IS NOT NULL AND v.value >= ?2)"
                                  " ORDER BY p.distinct_id LIMIT 101", -1, &page, 0) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_bind_int64(page, 1, atoll(argv[2]));
    sqlite3_bind_int64(page, 2, atoll(argv[3]));
    double best = 1e9;
    for (int run = 0; run < 20; run++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (sqlite3_step(page) == SQLITE_ROW) {}
        sqlite3_reset(page);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double elapsed = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
        if (elapsed < best) best = elapsed;
    }
    printf("%f\n", best);
    return 0;
}
