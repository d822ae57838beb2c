/* core/log.c — leveled logging: MK_LOG parsing (once), per-module levels in atomics, the line format,
 * escaping, the optional MK_LOG_FILE copy, user sinks and per-call-site rate limiting. */
#include "core/log.h"

#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MK_LOG_LINE_MAX 1024

static const char *const MODULES[MK_MOD__COUNT] = {"core",    "net",     "discovery", "streams", "groups",
                                                   "collections", "tickets", "tdx",       "metrics", "sim"};
static const char *const LEVELS[] = {"off", "error", "warn", "info", "debug", "trace"};
static const char *const LEVEL_TAGS[] = {"OFF  ", "ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};

static _Atomic int levels[MK_MOD__COUNT];
static _Atomic int default_level = MK_LOG_WARN;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static mk_log_sink_fn sink_fn;
static void *sink_ctx;
static int file_fd = -1;

const char *mk_log_module_name(mk_log_module_t m) {
    return (unsigned)m < MK_MOD__COUNT ? MODULES[m] : NULL;
}

static int find_module(const char *s, size_t n) {
    for (int i = 0; i < MK_MOD__COUNT; i++)
        if (strlen(MODULES[i]) == n && memcmp(MODULES[i], s, n) == 0) return i;
    return -1;
}

static int find_level(const char *s, size_t n) {
    for (int i = 0; i < (int)(sizeof LEVELS / sizeof LEVELS[0]); i++)
        if (strlen(LEVELS[i]) == n && strncasecmp(LEVELS[i], s, n) == 0) return i;
    return -1;
}

int mk_log_parse_spec(const char *spec, mk_log_level_t *deflt, mk_log_level_t out[MK_MOD__COUNT]) {
    if (!spec) return MK_EINVAL;
    mk_log_level_t d = *deflt, lv[MK_MOD__COUNT];
    bool set[MK_MOD__COUNT] = {0};
    const char *p = spec;
    bool first = true;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq) {
            int m = find_module(p, (size_t)(eq - p));
            int l = find_level(eq + 1, n - (size_t)(eq - p) - 1);
            if (m < 0 || l < 0) return MK_EINVAL;
            lv[m] = (mk_log_level_t)l;
            set[m] = true;
        } else {
            int l = find_level(p, n);
            if (l < 0 || !first) return MK_EINVAL;
            d = (mk_log_level_t)l;
        }
        first = false;
        if (!end) break;
        p = end + 1;
    }
    *deflt = d;
    for (int i = 0; i < MK_MOD__COUNT; i++) out[i] = set[i] ? lv[i] : d;
    return MK_OK;
}

static void read_env(void) {
    mk_log_level_t d = MK_LOG_WARN, lv[MK_MOD__COUNT];
    for (int i = 0; i < MK_MOD__COUNT; i++) lv[i] = d;
    const char *env = getenv("MK_LOG");
    bool bad = false;
    if (env && *env) {
        mk_log_level_t tmp[MK_MOD__COUNT];
        mk_log_level_t td = MK_LOG_WARN;
        if (mk_log_parse_spec(env, &td, tmp) == MK_OK) {
            d = td;
            memcpy(lv, tmp, sizeof lv);
        } else {
            bad = true;
        }
    }
    atomic_store(&default_level, (int)d);
    for (int i = 0; i < MK_MOD__COUNT; i++) atomic_store(&levels[i], (int)lv[i]);
    const char *file = getenv("MK_LOG_FILE");
    if (file && *file) file_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (bad) fprintf(stderr, "mosaik: ignoring invalid MK_LOG value (expected level[,module=level...])\n");
}

bool mk_log_enabled(mk_log_module_t m, mk_log_level_t lvl) {
    pthread_once(&env_once, read_env);
    if ((unsigned)m >= MK_MOD__COUNT || lvl == MK_LOG_OFF) return false;
    return (int)lvl <= atomic_load_explicit(&levels[m], memory_order_relaxed);
}

int mk_log_set_level(const char *module, mk_log_level_t lvl) {
    pthread_once(&env_once, read_env);
    if ((int)lvl < MK_LOG_OFF || lvl > MK_LOG_TRACE) return MK_EINVAL;
    if (!module) {
        atomic_store(&default_level, (int)lvl);
        for (int i = 0; i < MK_MOD__COUNT; i++) atomic_store(&levels[i], (int)lvl);
        return MK_OK;
    }
    int m = find_module(module, strlen(module));
    if (m < 0) return MK_EINVAL;
    atomic_store(&levels[m], (int)lvl);
    return MK_OK;
}

mk_log_level_t mk_log_get_level(const char *module) {
    pthread_once(&env_once, read_env);
    if (!module) return (mk_log_level_t)atomic_load(&default_level);
    int m = find_module(module, strlen(module));
    return m < 0 ? MK_LOG_OFF : (mk_log_level_t)atomic_load(&levels[m]);
}

void mk_log_set_sink(mk_log_sink_fn fn, void *ctx) {
    pthread_mutex_lock(&sink_mu);
    sink_fn = fn;
    sink_ctx = ctx;
    pthread_mutex_unlock(&sink_mu);
}

/* Appends text to line[*off], escaping control characters, never past MK_LOG_LINE_MAX. */
static void append_escaped(char *line, size_t *off, const char *text) {
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)text; *p && *off < MK_LOG_LINE_MAX - 4; p++) {
        if (*p == '\n') { line[(*off)++] = '\\'; line[(*off)++] = 'n'; }
        else if (*p == '\r') { line[(*off)++] = '\\'; line[(*off)++] = 'r'; }
        else if (*p < 0x20 || *p == 0x7f) {
            line[(*off)++] = '\\'; line[(*off)++] = 'x';
            line[(*off)++] = hex[*p >> 4]; line[(*off)++] = hex[*p & 15];
        } else line[(*off)++] = (char)*p;
    }
    line[*off] = 0;
}

__attribute__((format(printf, 5, 0)))
static void write_line(mk_log_module_t m, mk_log_level_t lvl, const char *self, uint64_t suppressed,
                       const char *fmt, va_list ap) {
    char text[MK_LOG_LINE_MAX], line[MK_LOG_LINE_MAX + 2];
    int64_t ms = mk_unix_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s [%s] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000),
                     LEVEL_TAGS[lvl], MODULES[m], self ? self : "-");
    size_t off = n > 0 ? (size_t)n : 0;
    vsnprintf(text, sizeof text, fmt, ap);
    append_escaped(line, &off, text);
    if (suppressed) {
        char sup[48];
        snprintf(sup, sizeof sup, " (%llu suppressed)", (unsigned long long)suppressed);
        append_escaped(line, &off, sup);
    }
    pthread_mutex_lock(&sink_mu);
    mk_log_sink_fn fn = sink_fn;
    void *ctx = sink_ctx;
    if (fn) fn(ctx, lvl, MODULES[m], line);
    pthread_mutex_unlock(&sink_mu);
    line[off] = '\n';
    if (!fn) {
        ssize_t w = write(STDERR_FILENO, line, off + 1);
        (void)w;
    }
    if (file_fd >= 0) {
        ssize_t w = write(file_fd, line, off + 1);
        (void)w;
    }
}

void mk_log_write(mk_log_module_t m, mk_log_level_t lvl, const char *self, const char *fmt, ...) {
    if ((unsigned)m >= MK_MOD__COUNT || lvl <= MK_LOG_OFF || lvl > MK_LOG_TRACE) return;
    va_list ap;
    va_start(ap, fmt);
    write_line(m, lvl, self, 0, fmt, ap);
    va_end(ap);
}

void mk_log_write_sup(mk_log_module_t m, mk_log_level_t lvl, const char *self, uint64_t suppressed,
                      const char *fmt, ...) {
    if ((unsigned)m >= MK_MOD__COUNT || lvl <= MK_LOG_OFF || lvl > MK_LOG_TRACE) return;
    va_list ap;
    va_start(ap, fmt);
    write_line(m, lvl, self, suppressed, fmt, ap);
    va_end(ap);
}

bool mk_log_ratelimit_pass(mk_log_ratelimit_t *rl, uint64_t *suppressed) {
    int64_t now = mk_now_ms();
    int64_t last = atomic_load(&rl->last_ms);
    if (last != 0 && now - last < 1000) {
        atomic_fetch_add(&rl->suppressed, 1);
        return false;
    }
    if (!atomic_compare_exchange_strong(&rl->last_ms, &last, now ? now : 1)) {
        atomic_fetch_add(&rl->suppressed, 1);
        return false;
    }
    *suppressed = atomic_exchange(&rl->suppressed, 0);
    return true;
}
