/* fuzz/fuzz_log_env.c — MK_LOG parsing (mk_log_parse_spec): the input, cut at its first NUL, is the value.
 * The verdict and every level must match an independent reference parser written from spec 10 §5
 * ("level" or "level,module=level,…"; level names case-insensitive, module names exact; a leading
 * "module=level" keeps the given default); on success every level is in off…trace, on failure neither the
 * default nor the module levels are touched. */
#include "core/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz/fuzz_check.h"

#define SENTINEL ((mk_log_level_t)77)

static const char *const REF_MODULES[MK_MOD__COUNT] = {"core",   "net",     "discovery", "streams", "groups",
                                                       "collections", "tickets", "tdx", "metrics", "sim"};
static const char *const REF_LEVELS[] = {"off", "error", "warn", "info", "debug", "trace"};

static int ref_level(const char *s, size_t n) {
    for (int i = 0; i < 6; i++)
        if (strlen(REF_LEVELS[i]) == n && strncasecmp(REF_LEVELS[i], s, n) == 0) return i;
    return -1;
}

static int ref_module(const char *s, size_t n) {
    for (int i = 0; i < MK_MOD__COUNT; i++)
        if (strlen(REF_MODULES[i]) == n && memcmp(REF_MODULES[i], s, n) == 0) return i;
    return -1;
}

/* Splits on ',' by index arithmetic (no strchr), one item at a time. */
static bool ref_parse(const char *s, int deflt_in, int *deflt, int lv[MK_MOD__COUNT]) {
    size_t len = strlen(s), start = 0;
    int d = deflt_in, mod[MK_MOD__COUNT];
    for (int i = 0; i < MK_MOD__COUNT; i++) mod[i] = -1;
    for (int item = 0; start <= len; item++) {
        size_t end = start;
        while (end < len && s[end] != ',') end++;
        size_t eq = start;
        while (eq < end && s[eq] != '=') eq++;
        if (eq < end) {
            int m = ref_module(s + start, eq - start);
            int l = ref_level(s + eq + 1, end - eq - 1);
            if (m < 0 || l < 0) return false;
            mod[m] = l;
        } else {
            int l = ref_level(s + start, end - start);
            if (l < 0 || item != 0) return false;
            d = l;
        }
        start = end + 1;
    }
    *deflt = d;
    for (int i = 0; i < MK_MOD__COUNT; i++) lv[i] = mod[i] >= 0 ? mod[i] : d;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *spec = malloc(size + 1);
    if (!spec) return 0;
    memcpy(spec, data, size);
    spec[size] = 0;

    mk_log_level_t deflt = MK_LOG_INFO, levels[MK_MOD__COUNT];
    for (int i = 0; i < MK_MOD__COUNT; i++) levels[i] = SENTINEL;
    int rc = mk_log_parse_spec(spec, &deflt, levels);

    int ref_deflt = -1, ref_lv[MK_MOD__COUNT];
    bool ref_ok = ref_parse(spec, MK_LOG_INFO, &ref_deflt, ref_lv);
    CHECK(rc == MK_OK || rc == MK_EINVAL);
    CHECK((rc == MK_OK) == ref_ok);
    if (rc == MK_OK) {
        CHECK(deflt >= MK_LOG_OFF && deflt <= MK_LOG_TRACE);
        CHECK((int)deflt == ref_deflt);
        for (int i = 0; i < MK_MOD__COUNT; i++) {
            CHECK(levels[i] >= MK_LOG_OFF && levels[i] <= MK_LOG_TRACE);
            CHECK((int)levels[i] == ref_lv[i]);
        }
    } else {
        CHECK(deflt == MK_LOG_INFO);
        for (int i = 0; i < MK_MOD__COUNT; i++) CHECK(levels[i] == SENTINEL);
    }
    free(spec);
    return 0;
}
