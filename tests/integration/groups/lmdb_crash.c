/* integration/groups/lmdb_crash — the LMDB log store under SIGKILL (spec 40 §7.2, §11.3). A child
 * process appends batches of entries (each body encodes its index), saves in the same batch a hard state
 * whose commit is the batch's last index, syncs, and writes the synced index to a pipe; the parent kills
 * it after a random delay, reopens the store and checks that the log is a prefix of what the child
 * wrote (every body intact), that it holds everything the child reported as synced, and that the hard
 * state belongs to the batch that ends the log (no torn batch). The rounds share one directory, so each
 * child first recovers what the last one left; the child's map starts small, so kills also land while
 * the map grows. Both sync policies: a process crash loses nothing synced under either. */
#include "support/mkt.h"

#include "mosaik/groups.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 8
#define MAX_BODY 4096

/* The body of entry i: its index (8 bytes, little-endian), then a pattern of an index-derived length. */
static size_t body_for(mk_index_t i, uint8_t *b) {
    size_t len = 8 + (size_t)((i * 2654435761u) % 3000);
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)(i >> (8 * k));
    for (size_t j = 8; j < len; j++) b[j] = (uint8_t)(i * 13 + j);
    return len;
}

static mk_term_t term_for(mk_index_t i) { return 1 + i / 500; }

static void write_all(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(5);
        c += w, n -= (size_t)w;
    }
}

/* The child: appends and syncs until killed; never returns. */
static void child(const char *dir, mk_lmdb_sync_t policy, int wfd, uint64_t seed) {
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    cfg.sync = policy;
    cfg.map_size = 256 << 10;
    mk_log_store_t *s = mk_log_store_lmdb(&cfg, NULL);
    if (!s) _exit(3);
    static uint8_t bodies[16][MAX_BODY];
    mk_log_entry_t e[16];
    uint64_t x = seed | 1;
    for (;;) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 1 + (size_t)(x % 16);
        mk_index_t first = s->vt->last(s->self).index + 1;
        for (size_t k = 0; k < n; k++) {
            mk_index_t i = first + k;
            e[k] = (mk_log_entry_t){.index = i, .term = term_for(i), .kind = MK_ENTRY_COMMAND, .body = bodies[k]};
            e[k].len = body_for(i, bodies[k]);
        }
        if (x & 0x100) {  /* one call or one call per entry: both are one batch */
            if (s->vt->append(s->self, e, n) != MK_OK) _exit(4);
        } else {
            for (size_t k = 0; k < n; k++)
                if (s->vt->append(s->self, &e[k], 1) != MK_OK) _exit(4);
        }
        mk_index_t last = first + n - 1;
        mk_hard_state_t hs = {.term = term_for(last), .commit = last};
        if (s->vt->save_state(s->self, &hs, NULL) != MK_OK) _exit(4);
        if (s->vt->sync(s->self) != MK_OK) _exit(6);
        write_all(wfd, &last, sizeof last);
    }
}

/* Reads what the child reported so far (non-blocking); the highest index, or `prev`. */
static mk_index_t drain(int fd, uint8_t *part, size_t *plen, mk_index_t prev) {
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return prev;
        for (ssize_t k = 0; k < r; k++) {
            part[(*plen)++] = buf[k];
            if (*plen == sizeof(mk_index_t)) {
                mk_index_t v;
                memcpy(&v, part, sizeof v);
                if (v > prev) prev = v;
                *plen = 0;
            }
        }
    }
}

/* Reopens the store and checks it; the last index. */
static mk_index_t check_store(const char *dir, mk_index_t reported, mk_index_t before) {
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    mk_error_t err = {0};
    mk_log_store_t *s = mk_log_store_lmdb(&cfg, &err);
    if (!s) fail_msg("reopening after the kill: %s", err.msg);
    mk_cursor_t last = s->vt->last(s->self);
    if (last.index < reported || last.index < before)
        fail_msg("the log ends at %llu but %llu was reported synced (%llu before this round)",
                 (unsigned long long)last.index, (unsigned long long)reported, (unsigned long long)before);
    mk_index_t first, stored;
    s->vt->available(s->self, &first, &stored);
    assert_int_equal(first, 1);
    assert_int_equal(stored, last.index);
    static uint8_t want[MAX_BODY];
    for (mk_index_t i = 1; i <= last.index; i++) {
        mk_log_entry_t e;
        int rc = s->vt->get(s->self, i, &e);
        if (rc != MK_OK) fail_msg("entry %llu of %llu: %s", (unsigned long long)i, (unsigned long long)last.index,
                                  mk_strerror(rc));
        size_t len = body_for(i, want);
        assert_int_equal(e.term, term_for(i));
        assert_int_equal(e.kind, MK_ENTRY_COMMAND);
        assert_int_equal(e.len, len);
        assert_memory_equal(e.body, want, len);
    }
    mk_hard_state_t hs;
    assert_int_equal(s->vt->load_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(hs.commit, last.index);  /* the hard state of the batch that ends the log */
    if (last.index) assert_int_equal(hs.term, term_for(last.index));
    mk_log_store_free(s);
    return last.index;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void crash_rounds(mk_lmdb_sync_t policy) {
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/mk-lmdb-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    mk_index_t confirmed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint64_t seed = mkt_rand();
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(dir, policy, fds[1], seed);
            _exit(7);
        }
        close(fds[1]);
        assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
        /* 1–200 ms, the last round longer; the pipe is drained meanwhile so the child never blocks */
        int delay_ms = round == ROUNDS - 1 ? 400 : 1 + (int)(mkt_rand() % 200);
        uint8_t part[8];
        size_t plen = 0;
        mk_index_t reported = 0;
        double until = mkt_now() + delay_ms / 1000.0;
        while (mkt_now() < until) {
            reported = drain(fds[0], part, &plen, reported);
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("the writer stopped on its own (exit status %d) in round %d", WEXITSTATUS(status), round);
        assert_int_equal(fcntl(fds[0], F_SETFL, 0), 0);
        reported = drain(fds[0], part, &plen, reported);  /* to EOF: everything it wrote before dying */
        close(fds[0]);
        mk_index_t last = check_store(dir, reported, confirmed);
        fprintf(stderr, "lmdb_crash: %s round %d: killed after %d ms, %llu synced reported, log ends at %llu\n",
                policy == MK_LMDB_SYNC_ALWAYS ? "always" : "none", round, delay_ms, (unsigned long long)reported,
                (unsigned long long)last);
        confirmed = last;
    }
    assert_true(confirmed > 0);  /* the writer did get going */
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void sigkill_keeps_a_synced_prefix_sync_always(void **state) {
    (void)state;
    crash_rounds(MK_LMDB_SYNC_ALWAYS);
}

static void sigkill_keeps_a_synced_prefix_sync_none(void **state) {
    (void)state;
    crash_rounds(MK_LMDB_SYNC_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_keeps_a_synced_prefix_sync_always),
        cmocka_unit_test(sigkill_keeps_a_synced_prefix_sync_none),
    };
    return mkt_run("integration.groups.lmdb_crash", tests, sizeof tests / sizeof tests[0]);
}
