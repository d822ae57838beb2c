/* support/prom_check.c — strict Prometheus text format 0.0.4 checker and sample lookup for tests.
 * Contracts in support/prom_check.h. Lines are parsed into spans of the input; families, series and
 * histogram groups are tracked in small growable tables owned by one check_t. */
#include "support/prom_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 64

typedef struct span { const char *p; size_t n; } span_t;
typedef struct label { span_t name, raw; } label_t; /* raw = value as written, escapes kept */
typedef struct sample {
    span_t name;
    label_t labels[MAX_LABELS];
    size_t nlabels;
    double value;
} sample_t;

typedef enum { T_UNTYPED, T_COUNTER, T_GAUGE, T_HISTOGRAM, T_SUMMARY } ftype_t;
typedef enum { F_DECLARED, F_OPEN, F_CLOSED } fstate_t;
typedef struct family { char *name; ftype_t type; bool has_help, has_type; fstate_t state; } family_t;
typedef struct hgroup {
    char *key; /* canonical labels without le */
    bool has_bucket, has_inf, has_sum, has_count;
    double last_le, last_cum, inf_value, count_value;
} hgroup_t;

typedef struct check {
    char *why; size_t whycap; size_t line;
    family_t *fams; size_t nfams, capfams;
    long cur;                       /* index of the open family, -1 = none */
    hgroup_t *groups; size_t ngroups, capgroups;
    char **set; size_t setcap, setlen; /* open-addressing set of series keys */
} check_t;

static int fail(check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(check_t *c, const char *fmt, ...) {
    if (c->why && c->whycap) {
        int k = snprintf(c->why, c->whycap, "line %zu: ", c->line);
        if (k >= 0 && (size_t)k < c->whycap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->why + k, c->whycap - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static bool span_eq(span_t s, const char *z) { return strlen(z) == s.n && memcmp(s.p, z, s.n) == 0; }
static char *span_dup(span_t s) {
    char *d = malloc(s.n + 1);
    if (d) { memcpy(d, s.p, s.n); d[s.n] = '\0'; }
    return d;
}

/* ---- lexical ---------------------------------------------------------------------------------- */

static bool is_name_start(char ch, bool colon) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (colon && ch == ':');
}
static bool is_name_char(char ch, bool colon) { return is_name_start(ch, colon) || (ch >= '0' && ch <= '9'); }

/* Length of a metric name (colon = true) or label name at p, 0 if none. */
static size_t scan_name(const char *p, const char *end, bool colon) {
    size_t i = 0;
    if (p >= end || !is_name_start(p[0], colon)) return 0;
    while (p + i < end && is_name_char(p[i], colon)) i++;
    return i;
}

/* Length of the valid UTF-8 character at p (1-4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned ch = p[0];
    size_t n; unsigned lo = 0x80, hi = 0xBF;
    if (ch < 0x80) return 1;
    if (ch >= 0xC2 && ch <= 0xDF) n = 2;
    else if (ch >= 0xE0 && ch <= 0xEF) { n = 3; lo = ch == 0xE0 ? 0xA0 : 0x80; hi = ch == 0xED ? 0x9F : 0xBF; }
    else if (ch >= 0xF0 && ch <= 0xF4) { n = 4; lo = ch == 0xF0 ? 0x90 : 0x80; hi = ch == 0xF4 ? 0x8F : 0xBF; }
    else return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++) if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* Checks UTF-8 and escapes of s; `quote_ok` false = `\"` is not an allowed escape (HELP text). */
static const char *check_escaped(span_t s, bool quoted) {
    const unsigned char *p = (const unsigned char *)s.p, *end = p + s.n;
    while (p < end) {
        if (*p == '\\') {
            if (p + 1 >= end) return "dangling backslash";
            if (p[1] != '\\' && p[1] != 'n' && !(quoted && p[1] == '"')) return "invalid escape sequence";
            p += 2;
            continue;
        }
        if (quoted && *p == '"') return "unescaped quote";
        size_t k = utf8_len(p, end);
        if (!k) return "invalid UTF-8";
        p += k;
    }
    return NULL;
}

/* Strict float: [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)? or +Inf, -Inf, NaN. */
static bool parse_float(span_t s, double *out) {
    if (span_eq(s, "+Inf")) { *out = INFINITY; return true; }
    if (span_eq(s, "-Inf")) { *out = -INFINITY; return true; }
    if (span_eq(s, "NaN")) { *out = NAN; return true; }
    size_t i = 0, digits = 0;
    if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) i++;
    while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') { i++; digits++; }
    if (i < s.n && s.p[i] == '.') {
        i++;
        while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') { i++; digits++; }
    }
    if (!digits) return false;
    if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        size_t e = 0;
        i++;
        if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) i++;
        while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') { i++; e++; }
        if (!e) return false;
    }
    if (i != s.n || s.n > 63) return false;
    char tmp[64];
    memcpy(tmp, s.p, s.n);
    tmp[s.n] = '\0';
    *out = strtod(tmp, NULL);
    return true;
}

static bool parse_timestamp(span_t s) {
    size_t i = s.n && s.p[0] == '-' ? 1 : 0;
    if (i == s.n || s.n - i > 19) return false;
    for (; i < s.n; i++) if (s.p[i] < '0' || s.p[i] > '9') return false;
    return true;
}

/* Parses a sample line; returns NULL or the cause. */
static const char *parse_sample(const char *p, const char *end, sample_t *s) {
    size_t k = scan_name(p, end, true);
    if (!k) return "invalid metric name";
    s->name = (span_t){ p, k };
    s->nlabels = 0;
    p += k;
    if (p < end && *p == '{') {
        p++;
        while (p < end && *p != '}') {
            size_t ln = scan_name(p, end, false);
            if (!ln) return "invalid label name";
            if (ln >= 2 && p[0] == '_' && p[1] == '_') return "label name with reserved __ prefix";
            if (s->nlabels == MAX_LABELS) return "too many labels";
            label_t *l = &s->labels[s->nlabels++];
            l->name = (span_t){ p, ln };
            for (size_t j = 0; j + 1 < s->nlabels; j++)
                if (s->labels[j].name.n == ln && memcmp(s->labels[j].name.p, p, ln) == 0)
                    return "repeated label name";
            p += ln;
            if (p + 1 >= end || p[0] != '=' || p[1] != '"') return "expected =\" after label name";
            p += 2;
            const char *v = p;
            while (p < end && *p != '"') p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            if (p >= end) return "unterminated label value";
            l->raw = (span_t){ v, (size_t)(p - v) };
            const char *bad = check_escaped(l->raw, true);
            if (bad) return bad;
            p++;
            if (p < end && *p == ',') p++;
            else if (p < end && *p != '}') return "expected , or } after label value";
        }
        if (p >= end) return "unterminated label set";
        p++;
    }
    if (p >= end || (*p != ' ' && *p != '\t')) return "expected blank before value";
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    const char *v = p;
    while (p < end && *p != ' ' && *p != '\t') p++;
    if (!parse_float((span_t){ v, (size_t)(p - v) }, &s->value)) return "invalid sample value";
    if (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *t = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        if (t == p || p != end || !parse_timestamp((span_t){ t, (size_t)(p - t) })) return "invalid timestamp";
    }
    return NULL;
}

/* ---- tables ----------------------------------------------------------------------------------- */

static int cmp_label(const void *a, const void *b) {
    const label_t *x = a, *y = b;
    size_t m = x->name.n < y->name.n ? x->name.n : y->name.n;
    int r = memcmp(x->name.p, y->name.p, m);
    return r ? r : (x->name.n > y->name.n) - (x->name.n < y->name.n);
}

/* "name{a="1",b="2"}" with labels sorted by name, skipping `skip` (NULL = none). NULL on ENOMEM. */
static char *canonical(span_t name, const sample_t *s, const char *skip) {
    label_t sorted[MAX_LABELS];
    memcpy(sorted, s->labels, s->nlabels * sizeof *sorted);
    qsort(sorted, s->nlabels, sizeof *sorted, cmp_label);
    size_t len = name.n + 3;
    for (size_t i = 0; i < s->nlabels; i++) len += sorted[i].name.n + sorted[i].raw.n + 4;
    char *out = malloc(len), *o = out;
    if (!out) return NULL;
    memcpy(o, name.p, name.n);
    o += name.n;
    *o++ = '{';
    for (size_t i = 0; i < s->nlabels; i++) {
        if (skip && span_eq(sorted[i].name, skip)) continue;
        o += sprintf(o, "%.*s=\"%.*s\",", (int)sorted[i].name.n, sorted[i].name.p, (int)sorted[i].raw.n,
                     sorted[i].raw.p);
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

static uint64_t hash_str(const char *z) {
    uint64_t h = 1469598103934665603ull;
    for (; *z; z++) h = (h ^ (unsigned char)*z) * 1099511628211ull;
    return h;
}

/* Adds key (taking ownership). 1 = added, 0 = already there (key freed), -1 = ENOMEM. */
static int set_add(check_t *c, char *key) {
    if (2 * (c->setlen + 1) > c->setcap) {
        size_t cap = c->setcap ? c->setcap * 2 : 64;
        char **next = calloc(cap, sizeof *next);
        if (!next) { free(key); return -1; }
        for (size_t i = 0; i < c->setcap; i++) {
            if (!c->set[i]) continue;
            size_t j = hash_str(c->set[i]) & (cap - 1);
            while (next[j]) j = (j + 1) & (cap - 1);
            next[j] = c->set[i];
        }
        free(c->set);
        c->set = next;
        c->setcap = cap;
    }
    size_t j = hash_str(key) & (c->setcap - 1);
    for (; c->set[j]; j = (j + 1) & (c->setcap - 1)) {
        if (strcmp(c->set[j], key) == 0) { free(key); return 0; }
    }
    c->set[j] = key;
    c->setlen++;
    return 1;
}

static long family_find(check_t *c, span_t name) {
    for (size_t i = 0; i < c->nfams; i++)
        if (span_eq(name, c->fams[i].name)) return (long)i;
    return -1;
}

static long family_add(check_t *c, span_t name, ftype_t type) {
    if (c->nfams == c->capfams) {
        size_t cap = c->capfams ? 2 * c->capfams : 16;
        family_t *f = realloc(c->fams, cap * sizeof *f);
        if (!f) return -1;
        c->fams = f;
        c->capfams = cap;
    }
    char *z = span_dup(name);
    if (!z) return -1;
    c->fams[c->nfams] = (family_t){ .name = z, .type = type, .state = F_DECLARED };
    return (long)c->nfams++;
}

/* Closes the open family, checking its histogram groups when `validate`. */
static int close_current(check_t *c, bool validate) {
    if (c->cur < 0) return 0;
    family_t *f = &c->fams[c->cur];
    f->state = F_CLOSED;
    c->cur = -1;
    int rc = 0;
    for (size_t i = 0; i < c->ngroups; i++) {
        hgroup_t *g = &c->groups[i];
        if (validate && rc == 0 && f->type == T_HISTOGRAM) {
            if (!g->has_inf) rc = fail(c, "histogram %s has no le=\"+Inf\" bucket", g->key);
            else if (!g->has_count) rc = fail(c, "histogram %s has no _count", g->key);
            else if (!g->has_sum) rc = fail(c, "histogram %s has no _sum", g->key);
            else if (g->inf_value != g->count_value)
                rc = fail(c, "histogram %s: +Inf bucket %.17g != _count %.17g", g->key, g->inf_value,
                          g->count_value);
        }
        free(g->key);
    }
    c->ngroups = 0;
    return rc;
}

static hgroup_t *group_get(check_t *c, char *key) {
    for (size_t i = 0; i < c->ngroups; i++) {
        if (strcmp(c->groups[i].key, key) == 0) { free(key); return &c->groups[i]; }
    }
    if (c->ngroups == c->capgroups) {
        size_t cap = c->capgroups ? 2 * c->capgroups : 8;
        hgroup_t *g = realloc(c->groups, cap * sizeof *g);
        if (!g) { free(key); return NULL; }
        c->groups = g;
        c->capgroups = cap;
    }
    c->groups[c->ngroups] = (hgroup_t){ .key = key };
    return &c->groups[c->ngroups++];
}

/* ---- lines ------------------------------------------------------------------------------------ */

static int on_meta(check_t *c, const char *p, const char *end, bool help) {
    size_t k = scan_name(p, end, true);
    if (!k) return fail(c, "invalid metric name in %s", help ? "HELP" : "TYPE");
    span_t name = { p, k };
    p += k;
    long fi = family_find(c, name);
    if (fi >= 0 && c->fams[fi].state != F_DECLARED)
        return fail(c, "%s for %.*s after its samples", help ? "HELP" : "TYPE", (int)k, name.p);
    if (close_current(c, true)) return -1;
    if (fi < 0 && (fi = family_add(c, name, T_UNTYPED)) < 0) return fail(c, "out of memory");
    family_t *f = &c->fams[fi];
    if (help) {
        if (f->has_help) return fail(c, "second HELP for %s", f->name);
        f->has_help = true;
        if (p == end) return 0;
        if (*p != ' ') return fail(c, "expected blank after HELP name");
        const char *bad = check_escaped((span_t){ p + 1, (size_t)(end - p - 1) }, false);
        return bad ? fail(c, "HELP %s: %s", f->name, bad) : 0;
    }
    if (f->has_type) return fail(c, "second TYPE for %s", f->name);
    f->has_type = true;
    span_t t = { p + 1, p < end ? (size_t)(end - p - 1) : 0 };
    if (p == end || *p != ' ') return fail(c, "expected blank after TYPE name");
    if (span_eq(t, "counter")) f->type = T_COUNTER;
    else if (span_eq(t, "gauge")) f->type = T_GAUGE;
    else if (span_eq(t, "histogram")) f->type = T_HISTOGRAM;
    else if (span_eq(t, "summary")) f->type = T_SUMMARY;
    else if (span_eq(t, "untyped")) f->type = T_UNTYPED;
    else return fail(c, "unknown TYPE %.*s", (int)t.n, t.p);
    return 0;
}

static bool ends_with(span_t s, const char *suffix, span_t *base) {
    size_t k = strlen(suffix);
    if (s.n <= k || memcmp(s.p + s.n - k, suffix, k) != 0) return false;
    *base = (span_t){ s.p, s.n - k };
    return true;
}

static int on_histogram_sample(check_t *c, const sample_t *s, span_t base) {
    span_t b;
    bool bucket = ends_with(s->name, "_bucket", &b);
    const label_t *le = NULL;
    for (size_t i = 0; i < s->nlabels; i++)
        if (span_eq(s->labels[i].name, "le")) le = &s->labels[i];
    if (!bucket && le) return fail(c, "le label on %.*s", (int)s->name.n, s->name.p);
    if (bucket && !le) return fail(c, "bucket without le label");
    bool sum = !bucket && ends_with(s->name, "_sum", &b);
    if (!sum && (isnan(s->value) || s->value < 0)) return fail(c, "negative or NaN histogram count");
    char *key = canonical(base, s, "le");
    hgroup_t *g = key ? group_get(c, key) : NULL;
    if (!g) return fail(c, "out of memory");
    if (!bucket) {
        if (sum) g->has_sum = true;
        else { g->has_count = true; g->count_value = s->value; }
        return 0;
    }
    double bound;
    if (!parse_float(le->raw, &bound) || isnan(bound)) return fail(c, "invalid le value");
    if (g->has_inf) return fail(c, "bucket after the +Inf bucket");
    if (g->has_bucket && bound <= g->last_le) return fail(c, "le values not increasing");
    if (g->has_bucket && s->value < g->last_cum) return fail(c, "bucket counts not cumulative");
    g->has_bucket = true;
    g->last_le = bound;
    g->last_cum = s->value;
    if (isinf(bound)) { g->has_inf = true; g->inf_value = s->value; }
    return 0;
}

static int on_sample(check_t *c, const char *p, const char *end) {
    sample_t s;
    const char *bad = parse_sample(p, end, &s);
    if (bad) return fail(c, "%s", bad);
    long fi = family_find(c, s.name);
    span_t base = s.name;
    if (fi >= 0 && c->fams[fi].type == T_HISTOGRAM)
        return fail(c, "histogram sample %.*s without _bucket/_sum/_count", (int)s.name.n, s.name.p);
    if (fi < 0) {
        span_t b;
        long bi = -1;
        if (ends_with(s.name, "_bucket", &b) || ends_with(s.name, "_sum", &b) || ends_with(s.name, "_count", &b))
            bi = family_find(c, b);
        bool hist = bi >= 0 && c->fams[bi].type == T_HISTOGRAM;
        bool summ = bi >= 0 && c->fams[bi].type == T_SUMMARY && !ends_with(s.name, "_bucket", &b);
        if (hist || summ) {
            fi = bi;
            base = (span_t){ s.name.p, strlen(c->fams[bi].name) };
        } else if ((fi = family_add(c, s.name, T_UNTYPED)) < 0) {
            return fail(c, "out of memory");
        }
    }
    family_t *f = &c->fams[fi];
    if (f->state == F_CLOSED) return fail(c, "samples of %s are not contiguous", f->name);
    if (c->cur != fi) {
        if (close_current(c, true)) return -1;
        c->cur = fi;
        f->state = F_OPEN;
    }
    char *key = canonical(s.name, &s, NULL);
    int added = key ? set_add(c, key) : -1;
    if (added < 0) return fail(c, "out of memory");
    if (added == 0) return fail(c, "series %.*s repeated", (int)s.name.n, s.name.p);
    if (f->type == T_COUNTER && (isnan(s.value) || s.value < 0)) return fail(c, "negative or NaN counter");
    if (f->type == T_HISTOGRAM) return on_histogram_sample(c, &s, base);
    return 0;
}

int mkt_prom_check(const char *text, size_t n, char *why, size_t whycap) {
    check_t c = { .why = why, .whycap = whycap, .cur = -1 };
    if (why && whycap) why[0] = '\0';
    int rc = 0;
    if (n && text[n - 1] != '\n') {
        c.line = 0;
        rc = fail(&c, "text does not end with a newline");
    }
    const char *p = text, *end = text + n;
    while (rc == 0 && p < end) {
        c.line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        if (memchr(p, '\0', (size_t)(eol - p))) rc = fail(&c, "NUL byte");
        else if (eol > p && (p[0] == ' ' || p[0] == '\t' || eol[-1] == ' ' || eol[-1] == '\t'))
            rc = fail(&c, "leading or trailing blank");
        else if (eol == p) rc = 0; /* empty lines are ignored by the format */
        else if (eol - p >= 7 && memcmp(p, "# HELP ", 7) == 0) rc = on_meta(&c, p + 7, eol, true);
        else if (eol - p >= 7 && memcmp(p, "# TYPE ", 7) == 0) rc = on_meta(&c, p + 7, eol, false);
        else if (p[0] == '#') rc = 0; /* other comments */
        else rc = on_sample(&c, p, eol);
        p = eol + 1;
    }
    c.line++;
    int last = close_current(&c, rc == 0);
    if (rc == 0) rc = last;
    for (size_t i = 0; i < c.nfams; i++) free(c.fams[i].name);
    free(c.fams);
    free(c.groups);
    for (size_t i = 0; i < c.setcap; i++) free(c.set[i]);
    free(c.set);
    return rc;
}

/* True if raw (escaped) equals the plain string z. */
static bool raw_equals(span_t raw, const char *z) {
    for (size_t i = 0; i < raw.n; i++, z++) {
        char ch = raw.p[i];
        if (ch == '\\' && i + 1 < raw.n) ch = raw.p[++i] == 'n' ? '\n' : raw.p[i];
        if (*z != ch) return false;
    }
    return *z == '\0';
}

bool mkt_prom_value(const char *text, size_t n, const char *name, const char *const *kv, double *value) {
    const char *p = text, *end = text + n;
    sample_t s;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if (p < eol && p[0] != '#' && !parse_sample(p, eol, &s) && span_eq(s.name, name)) {
            bool all = true;
            for (size_t i = 0; all && kv && kv[2 * i]; i++) {
                bool found = false;
                for (size_t j = 0; j < s.nlabels && !found; j++)
                    found = span_eq(s.labels[j].name, kv[2 * i]) && raw_equals(s.labels[j].raw, kv[2 * i + 1]);
                all = found;
            }
            if (all) {
                *value = s.value;
                return true;
            }
        }
        p = eol + 1;
    }
    return false;
}
