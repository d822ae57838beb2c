/* streams/stats.c — stream identities, criteria, channel states and the human-readable forms of
 * channel statistics (spec 30 §4.2, §5). Pure. */
#include "mosaik/streams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mk_id_t mk_stream_id(const char *name) { return mk_id_from_str(name ? name : ""); }

bool mk_criteria_matches(const mk_criteria_t *c, const void *datum, size_t len) {
    (void)datum;
    (void)len;
    return !c || c->kind == MK_CRITERIA_ALL;
}

const char *mk_channel_state_str(mk_channel_state_t s) {
    switch (s) {
    case MK_CHANNEL_CONNECTING: return "Connecting";
    case MK_CHANNEL_CONNECTED: return "Connected";
    case MK_CHANNEL_TERMINATED: return "Terminated";
    }
    return "Unknown";
}

/* "1h 5s": the non-zero units of d h m s; "850ms" under a second. */
static void uptime_str(uint64_t ms, char *buf, size_t cap) {
    if (ms < 1000) {
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
        return;
    }
    uint64_t s = ms / 1000;
    uint64_t parts[4] = {s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60};
    static const char units[4] = {'d', 'h', 'm', 's'};
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < 4; i++) {
        if (!parts[i]) continue;
        int n = snprintf(buf + k, k < cap ? cap - k : 0, "%s%llu%c", k ? " " : "", (unsigned long long)parts[i], units[i]);
        if (n > 0) k += (size_t)n;
    }
}

/* "N B" below 1000, else kB … TB with two decimals, trailing zeros and the dot dropped. */
static void bytes_str(uint64_t b, char *buf, size_t cap) {
    if (b < 1000) {
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
        return;
    }
    static const char *const units[] = {"kB", "MB", "GB", "TB"};
    double v = (double)b / 1000.0;
    int u = 0;
    while (v >= 999.995 && u < 3) {
        v /= 1000.0;
        u++;
    }
    char num[24];
    snprintf(num, sizeof num, "%.2f", v);
    char *end = num + strlen(num) - 1;
    while (*end == '0') *end-- = 0;
    if (*end == '.') *end = 0;
    snprintf(buf, cap, "%s %s", num, units[u]);
}

int mk_stream_stats_format(const mk_stream_stats_t *s, char *buf, size_t cap) {
    char up[64] = "N/A", by[32];
    if (s->connected_at_ms) uptime_str(s->uptime_ms, up, sizeof up);
    bytes_str(s->bytes, by, sizeof by);
    return snprintf(buf, cap, "uptime: %s, datums: %llu, bytes: %s", up, (unsigned long long)s->datums, by);
}

int mk_channel_info_format(const mk_channel_info_t *ch, char *buf, size_t cap) {
    char a[MK_ID_SHORT_LEN + 1], b[MK_ID_SHORT_LEN + 1], c[MK_ID_SHORT_LEN + 1], st[160];
    mk_stream_stats_format(&ch->stats, st, sizeof st);
    return snprintf(buf, cap, "stream %s %s -> %s %s: %s", mk_id_short(&ch->stream_id, a), mk_id_short(&ch->producer_id, b),
                    mk_id_short(&ch->consumer_id, c), mk_channel_state_str(ch->state), st);
}

void mk_channel_info_free(mk_channel_info_t *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) mk_peer_entry_unref(v[i].peer);
    free(v);
}
