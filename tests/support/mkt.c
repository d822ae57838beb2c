/* support/mkt.c — the test support library (see mkt.h). */
#include "support/mkt.h"

#include <mosaik/core.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING_BYTES (4u << 20)

double mkt_time_factor(void) {
    static double f = 0;
    if (f == 0) {
        const char *s = getenv("MK_TIME_FACTOR");
        double v = 1;
        if (s && *s) {
            char *end;
            v = strtod(s, &end);
            if (*end || v < 0.1 || v > 100) {
                fprintf(stderr, "mkt: invalid MK_TIME_FACTOR '%s', using 1\n", s);
                v = 1;
            }
        }
        f = v;
    }
    return f;
}

int mkt_ms(int ms) { return (int)(ms * mkt_time_factor()); }
double T(double s) { return s * mkt_time_factor(); }

double mkt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t seed_value, rng_state;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;

static void make_seed(void) {
    const char *s = getenv("MK_TEST_SEED");
    seed_value = s && *s ? strtoull(s, NULL, 0) : (uint64_t)(mkt_now() * 1e9);
    rng_state = seed_value;
    fprintf(stderr, "mkt: seed %llu (MK_TEST_SEED to replay)\n", (unsigned long long)seed_value);
}

uint64_t mkt_seed(void) {
    pthread_once(&seed_once, make_seed);
    return seed_value;
}

uint64_t mkt_rand(void) {
    mkt_seed();
    pthread_mutex_lock(&rng_mu);
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    pthread_mutex_unlock(&rng_mu);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mkt_rand_bytes(void *p, size_t n) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)mkt_rand();
}

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int mkt_count_threads(void) { return count_dir("/proc/self/task"); }
int mkt_count_fds(void) { return count_dir("/proc/self/fd") - 1; /* the DIR's own fd */ }

void mkt_print_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[300], target[300];
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
    }
    closedir(d);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ring;
static size_t ring_len;
static mk_log_level_t live_level = MK_LOG_WARN;

static void capture_sink(void *ctx, mk_log_level_t lvl, const char *module, const char *line) {
    (void)ctx;
    (void)module;
    size_t n = strlen(line);
    pthread_mutex_lock(&log_mu);
    if (ring) {
        if (ring_len + n + 1 >= RING_BYTES) {  /* drop the older half */
            size_t keep = ring_len / 2;
            memmove(ring, ring + ring_len - keep, keep);
            ring_len = keep;
        }
        memcpy(ring + ring_len, line, n);
        ring_len += n;
        ring[ring_len++] = '\n';
    }
    pthread_mutex_unlock(&log_mu);
    if (lvl <= live_level) fprintf(stderr, "%s\n", line);
}

void mkt_log_capture_begin(void) {
    pthread_mutex_lock(&log_mu);
    if (!ring) ring = malloc(RING_BYTES);
    ring_len = 0;
    pthread_mutex_unlock(&log_mu);
    live_level = mk_log_get_level(NULL);
    if (live_level < MK_LOG_WARN && !getenv("MK_LOG")) live_level = MK_LOG_WARN;
    mk_log_set_sink(capture_sink, NULL);
    if (mk_log_get_level(NULL) < MK_LOG_DEBUG) mk_log_set_level(NULL, MK_LOG_DEBUG);
}

void mkt_log_clear(void) {
    pthread_mutex_lock(&log_mu);
    ring_len = 0;
    pthread_mutex_unlock(&log_mu);
}

size_t mkt_log_count(const char *needle) {
    size_t count = 0;
    pthread_mutex_lock(&log_mu);
    if (ring) {
        ring[ring_len < RING_BYTES ? ring_len : RING_BYTES - 1] = 0;
        for (const char *p = ring; (p = strstr(p, needle)); p++) count++;
    }
    pthread_mutex_unlock(&log_mu);
    return count;
}

bool mkt_log_contains(const char *needle) { return mkt_log_count(needle) > 0; }

void mkt_log_dump_tail(int n) {
    pthread_mutex_lock(&log_mu);
    if (ring && ring_len) {
        size_t i = ring_len;
        int lines = 0;
        while (i > 0 && lines <= n) {
            i--;
            if (ring[i] == '\n') lines++;
        }
        fprintf(stderr, "---- last %d log lines ----\n%.*s---- end of log ----\n", n, (int)(ring_len - i),
                ring + i);
    }
    pthread_mutex_unlock(&log_mu);
}

bool mkt_wait_until(bool (*pred)(void *arg), void *arg, double secs) {
    double t0 = mkt_now(), lim = T(secs);
    while (!pred(arg)) {
        if (mkt_now() - t0 > lim) return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

int mkt_run(const char *group, const struct CMUnitTest *tests, size_t n) {
    return mkt_run_group(group, tests, n, NULL, NULL);
}

int mkt_run_group(const char *group, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                  CMFixtureFunction teardown) {
    const char *filter = getenv("MK_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    mkt_log_capture_begin();
    mkt_seed();
    int failed = _cmocka_run_group_tests(group, tests, n, setup, teardown);
    if (failed) mkt_log_dump_tail(300);
    mk_log_set_sink(NULL, NULL);
    free(ring);
    ring = NULL;
    return failed;
}
