/* unit/tee/tdx_data.h — reading the shared TDX test data (tests/data/tdx, a copy of
 * shared/testdata/tdx; see its README for origin and expected values). */
#ifndef MKT_TDX_DATA_H
#define MKT_TDX_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TDX_NOW 1751328000 /* 2025-07-01T00:00:00Z: inside every window of the collateral */

/* The whole file, NUL-terminated (the NUL is not counted in *len); fails the test when unreadable. */
static inline char *tdx_read(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/tdx/%s", MK_TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = '\0';
    if (len) *len = (size_t)n;
    return b;
}

static inline void tdx_unhex(const char *hex, uint8_t *out, size_t n) {
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

#define assert_hex_equal(bytes, hex)                                  \
    do {                                                              \
        uint8_t want_[256];                                           \
        size_t n_ = strlen(hex) / 2;                                  \
        tdx_unhex((hex), want_, n_);                                  \
        assert_memory_equal((bytes), want_, n_);                      \
    } while (0)

#endif
