/* tools/mosaik/inspect_view.c — what `mosaik inspect` shows (spec 70 §2.4): the catalog snapshot as a
 * text table (peers, then streams with their producers and groups with their members) or as one JSON
 * document (schema mosaik.inspect/1), with names for known tags and --name strings, ticket kinds with
 * the claimed (unverified) expiry of JWTs, RTTs and whether we hold a link to the peer. */
#include "inspect.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- names ---- */

static const char *WELL_KNOWN[] = {"bootstrap", "beacon-node", "mosaik.inspect", NULL};

const char *inspect_name_of(const inspect_opts_t *o, const mk_id_t *id) {
    for (size_t i = 0; i < o->nnames; i++) {
        mk_id_t n = mk_id_from_str(o->names[i]);
        if (mk_id_eq(&n, id)) return o->names[i];
    }
    for (size_t i = 0; WELL_KNOWN[i]; i++) {
        mk_id_t n = mk_id_from_str(WELL_KNOWN[i]);
        if (mk_id_eq(&n, id)) return WELL_KNOWN[i];
    }
    for (size_t i = 0; i < o->net.ntags; i++) {
        mk_id_t n = mk_id_from_str(o->net.tags[i]);
        if (mk_id_eq(&n, id)) return o->net.tags[i];
    }
    return NULL;
}

/* ---- tickets ---- */

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* The "exp" claim of a compact JWS (seconds), or -1 when it cannot be read. Unverified. */
static int64_t jwt_claimed_exp(const uint8_t *data, size_t len) {
    const uint8_t *dot1 = memchr(data, '.', len);
    if (!dot1) return -1;
    const uint8_t *p = dot1 + 1, *end = data + len;
    const uint8_t *dot2 = memchr(p, '.', (size_t)(end - p));
    if (!dot2 || dot2 - p > 12000) return -1;
    size_t n = (size_t)(dot2 - p);
    uint8_t *raw = malloc(n * 3 / 4 + 4);
    if (!raw) return -1;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((char)p[i]);
        if (v < 0) {
            free(raw);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[k++] = (uint8_t)(acc >> bits);
        }
    }
    json_t *claims = json_loadb((const char *)raw, k, 0, NULL);
    free(raw);
    json_t *exp = claims ? json_object_get(claims, "exp") : NULL;
    int64_t out = exp && json_is_integer(exp) ? (int64_t)json_integer_value(exp) : -1;
    json_decref(claims);
    return out;
}

const char *inspect_ticket_kind(const mk_ticket_t *t, int64_t *expires_at_ms) {
    mk_id_t jwt = mk_id_from_str("mosaik.tickets.jwt.v1"), tdx = mk_id_from_str("mosaik.tee.tdx.ticket.v1");
    *expires_at_ms = -1;
    if (mk_id_eq(&t->cls, &jwt)) {
        int64_t exp = jwt_claimed_exp(t->data, t->len);
        if (exp >= 0) *expires_at_ms = exp * 1000;
        return "jwt";
    }
    if (mk_id_eq(&t->cls, &tdx)) return "tdx";
    return "?";
}

/* ---- the snapshot ---- */

static bool has_link(const inspect_snap_t *s, const mk_peer_id_t *id) {
    for (size_t i = 0; i < s->nactive; i++)
        if (mk_id_eq(&s->active[i], id)) return true;
    return false;
}

/* The peers to show: the catalog in PeerId order, with our own entry in its place when asked. */
static size_t rows(const inspect_snap_t *s, const mk_peer_entry_t **out, size_t cap) {
    size_t k = 0;
    bool self_done = !s->self;
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, s->cat, 0);
    const mk_peer_entry_t *p;
    while ((p = mk_catalog_next(&it)) && k < cap) {
        if (!self_done && memcmp(mk_peer_entry_id(s->self)->b, mk_peer_entry_id(p)->b, 32) < 0) {
            out[k++] = s->self;
            self_done = true;
            if (k == cap) break;
        }
        out[k++] = p;
    }
    if (!self_done && k < cap) out[k++] = s->self;
    return k;
}

/* ---- text ---- */

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return;
        }
        size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t)n;
        char *nb = realloc(*buf, ncap);
        if (!nb) return;
        *buf = nb;
        *cap = ncap;
    }
}

typedef struct group_row {
    mk_id_t id;
    mk_peer_id_t members[64];
    size_t n;
} group_row_t;

/* Collects, per stream (or group) id, the peers that list it. */
static size_t collect(const mk_peer_entry_t **r, size_t nr, bool streams, group_row_t **out) {
    group_row_t *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < nr; i++) {
        const mk_id_t *ids;
        size_t k = streams ? mk_peer_entry_streams(r[i], &ids) : mk_peer_entry_groups(r[i], &ids);
        for (size_t j = 0; j < k; j++) {
            size_t x = 0;
            while (x < n && !mk_id_eq(&v[x].id, &ids[j])) x++;
            if (x == n) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 8;
                    group_row_t *nv = realloc(v, cap * sizeof *nv);
                    if (!nv) break;
                    v = nv;
                }
                memset(&v[n], 0, sizeof v[n]);
                v[n++].id = ids[j];
            }
            if (v[x].n < 64) v[x].members[v[x].n++] = *mk_peer_entry_id(r[i]);
        }
    }
    *out = v;
    return n;
}

char *inspect_render_text(const inspect_opts_t *o, const inspect_snap_t *s, bool bold) {
    char *buf = NULL, sh[MK_ID_SHORT_LEN + 1], sh2[MK_ID_SHORT_LEN + 1];
    size_t len = 0, cap = 0;
    const mk_peer_entry_t **r = calloc(s->count + 2, sizeof *r);
    if (!r) return NULL;
    size_t nr = rows(s, r, s->count + 2);
    long up_s = (long)s->up_s;
    append(&buf, &len, &cap, "%smosaik inspect  network %s  self %s  up %02ld:%02ld:%02ld  peers %zu  links %zu%s\n",
           bold ? "\x1b[1m" : "", mk_id_short(&s->network, sh), mk_id_short(&s->me, sh2), up_s / 3600, (up_s / 60) % 60,
           up_s % 60, s->count, s->nactive, bold ? "\x1b[0m" : "");
    append(&buf, &len, &cap, "%-10s  %-21s %7s %5s %-9s %-16s %3s %3s %s\n", "PEER", "ADDRESS", "RTT ms", "AGE", "UP", "TAGS",
           "STR", "GRP", "TICKETS");
    for (size_t i = 0; i < nr; i++) {
        const mk_peer_entry_t *p = r[i];
        char addr[MK_ADDR_STR_MAX], rtt[16] = "-", age[16], upb[16], tags[128] = "", tickets[128] = "";
        mk_peer_entry_addr_format(p, addr, sizeof addr);
        const char *at = strchr(addr, '@');
        char *comma = at ? strchr(at, ',') : NULL;
        if (comma) *comma = 0;  /* the first address only */
        mk_peer_info_t info;
        if (p != s->self && mk_catalog_peer_info(s->cat, mk_peer_entry_id(p), &info) == MK_OK && info.rtt_us >= 0)
            snprintf(rtt, sizeof rtt, "%.2f", (double)info.rtt_us / 1000.0);
        mk_entry_version_t v = mk_peer_entry_version(p);
        cli_duration((double)(s->now_ms - (int64_t)v.update_ms) / 1000.0, age, sizeof age);
        cli_duration((double)(s->now_ms - (int64_t)v.start_ms) / 1000.0, upb, sizeof upb);
        const mk_id_t *t;
        size_t nt = mk_peer_entry_tags(p, &t);
        for (size_t j = 0; j < nt && strlen(tags) < sizeof tags - 40; j++) {
            const char *name = inspect_name_of(o, &t[j]);
            char b[MK_ID_SHORT_LEN + 1];
            strcat(tags, j ? "," : "");
            strcat(tags, name ? name : mk_id_short(&t[j], b));
        }
        const mk_ticket_t *tk;
        size_t ntk = mk_peer_entry_tickets(p, &tk);
        for (size_t j = 0; j < ntk && strlen(tickets) < sizeof tickets - 24; j++) {
            int64_t exp;
            const char *kind = inspect_ticket_kind(&tk[j], &exp);
            char one[32];
            if (exp >= 0) {
                char d[16];
                if (exp <= s->now_ms) snprintf(one, sizeof one, "%s(expired)", kind);
                else snprintf(one, sizeof one, "%s(%s)", kind, cli_duration((double)(exp - s->now_ms) / 1000.0, d, sizeof d));
            } else {
                snprintf(one, sizeof one, "%s", kind);
            }
            strcat(tickets, j ? "," : "");
            strcat(tickets, one);
        }
        append(&buf, &len, &cap, "%-10s%s %-21s %7s %5s %-9s %-16s %3zu %3zu %s\n", mk_id_short(mk_peer_entry_id(p), sh),
               p == s->self ? "*" : has_link(s, mk_peer_entry_id(p)) ? "+" : " ", at ? at + 1 : "-", rtt, age, upb,
               nt ? tags : "-", mk_peer_entry_streams(p, NULL), mk_peer_entry_groups(p, NULL), ntk ? tickets : "-");
    }
    for (int pass = 0; pass < 2; pass++) {
        group_row_t *g = NULL;
        size_t ng = collect(r, nr, pass == 0, &g);
        if (ng) append(&buf, &len, &cap, "%-12s %s\n", pass == 0 ? "STREAM" : "GROUP", pass == 0 ? "PRODUCERS" : "MEMBERS");
        for (size_t i = 0; i < ng; i++) {
            const char *name = inspect_name_of(o, &g[i].id);
            append(&buf, &len, &cap, "%-12s", name ? name : mk_id_short(&g[i].id, sh));
            for (size_t j = 0; j < g[i].n; j++) append(&buf, &len, &cap, " %s", mk_id_short(&g[i].members[j], sh));
            append(&buf, &len, &cap, "\n");
        }
        free(g);
    }
    free(r);
    return buf;
}

/* ---- JSON ---- */

static json_t *hex(const mk_id_t *id) {
    char h[MK_ID_HEX_LEN + 1];
    return json_string(mk_id_hex(id, h));
}

char *inspect_render_json(const inspect_opts_t *o, const inspect_snap_t *s) {
    json_t *doc = json_object(), *peers = json_array();
    json_object_set_new(doc, "schema", json_string("mosaik.inspect/1"));
    json_object_set_new(doc, "network", hex(&s->network));
    json_object_set_new(doc, "self", hex(&s->me));
    json_object_set_new(doc, "observed_at_ms", json_integer(s->now_ms));
    const mk_peer_entry_t **r = calloc(s->count + 2, sizeof *r);
    size_t nr = r ? rows(s, r, s->count + 2) : 0;
    for (size_t i = 0; i < nr; i++) {
        const mk_peer_entry_t *p = r[i];
        json_t *jp = json_object(), *addrs = json_array(), *tags = json_array(), *streams = json_array(),
               *groups = json_array(), *tickets = json_array();
        json_object_set_new(jp, "id", hex(mk_peer_entry_id(p)));
        char addr[MK_ADDR_STR_MAX];
        mk_peer_entry_addr_format(p, addr, sizeof addr);
        const char *at = strchr(addr, '@');
        for (char *a = at ? (char *)at + 1 : NULL, *save = NULL, *t = a ? strtok_r(a, ",", &save) : NULL; t;
             t = strtok_r(NULL, ",", &save))
            json_array_append_new(addrs, json_string(t));
        const mk_id_t *ids;
        size_t k = mk_peer_entry_tags(p, &ids);
        for (size_t j = 0; j < k; j++) {
            const char *name = inspect_name_of(o, &ids[j]);
            json_array_append_new(tags, name ? json_string(name) : hex(&ids[j]));
        }
        k = mk_peer_entry_streams(p, &ids);
        for (size_t j = 0; j < k; j++) json_array_append_new(streams, hex(&ids[j]));
        k = mk_peer_entry_groups(p, &ids);
        for (size_t j = 0; j < k; j++) json_array_append_new(groups, hex(&ids[j]));
        const mk_ticket_t *tk;
        k = mk_peer_entry_tickets(p, &tk);
        for (size_t j = 0; j < k; j++) {
            int64_t exp;
            const char *kind = inspect_ticket_kind(&tk[j], &exp);
            json_t *jt = json_object();
            json_object_set_new(jt, "class", hex(&tk[j].cls));
            json_object_set_new(jt, "kind", json_string(kind));
            json_object_set_new(jt, "bytes", json_integer((json_int_t)tk[j].len));
            json_object_set_new(jt, "expires_at_ms", exp >= 0 ? json_integer(exp) : json_null());
            json_object_set_new(jt, "verified", json_false());
            json_array_append_new(tickets, jt);
        }
        json_object_set_new(jp, "addrs", addrs);
        json_object_set_new(jp, "tags", tags);
        json_object_set_new(jp, "streams", streams);
        json_object_set_new(jp, "groups", groups);
        json_object_set_new(jp, "tickets", tickets);
        mk_entry_version_t v = mk_peer_entry_version(p);
        json_object_set_new(jp, "started_at_ms", json_integer((json_int_t)v.start_ms));
        json_object_set_new(jp, "updated_at_ms", json_integer((json_int_t)v.update_ms));
        mk_peer_info_t info;
        if (p != s->self && mk_catalog_peer_info(s->cat, mk_peer_entry_id(p), &info) == MK_OK && info.rtt_us >= 0)
            json_object_set_new(jp, "rtt_ms", json_real((double)info.rtt_us / 1000.0));
        else
            json_object_set_new(jp, "rtt_ms", json_null());
        json_object_set_new(jp, "link", json_boolean(has_link(s, mk_peer_entry_id(p))));
        json_object_set_new(jp, "protocol", json_string(mk_peer_entry_agent(p)));
        if (p == s->self) json_object_set_new(jp, "self", json_true());
        json_array_append_new(peers, jp);
    }
    json_object_set_new(doc, "peers", peers);
    for (int pass = 0; pass < 2; pass++) {
        group_row_t *g = NULL;
        size_t ng = collect(r, nr, pass == 0, &g);
        json_t *arr = json_array();
        for (size_t i = 0; i < ng; i++) {
            json_t *jg = json_object(), *m = json_array();
            json_object_set_new(jg, "id", hex(&g[i].id));
            const char *name = inspect_name_of(o, &g[i].id);
            if (name) json_object_set_new(jg, "name", json_string(name));
            for (size_t j = 0; j < g[i].n; j++) json_array_append_new(m, hex(&g[i].members[j]));
            json_object_set_new(jg, pass == 0 ? "producers" : "members", m);
            json_array_append_new(arr, jg);
        }
        json_object_set_new(doc, pass == 0 ? "streams" : "groups", arr);
        free(g);
    }
    free(r);
    char *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return out;
}
