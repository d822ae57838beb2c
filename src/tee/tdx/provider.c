/* tee/tdx/provider.c — quote providers' common part (spec 60 §8): the provider object, the public
 * wrappers and the process-wide TDX worker thread. Requests are queued to one lazily started thread;
 * callers wait up to timeout_ms (MK_ETIMEDOUT: the job stays referenced by the worker, which discards
 * its late result), refuse with MK_EBUSY on a network loop thread, and mk_tdx_provider_free drops the
 * provider's queued jobs and waits for its running one. Availability is probed once and cached. A forked
 * child starts a worker of its own. */
#include "tee/tdx/provider.h"

#include "core/error.h"
#include "core/time.h"
#include "net/net.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mk_tdx_provider {
    const mk_tdx_provider_ops_t *ops;
    void *ctx;
    int pending;       /* jobs referencing the provider (queued or running); under W.mu */
    bool closing;      /* mk_tdx_provider_free started; under W.mu */
    _Atomic int avail; /* 0 = not probed yet, 1 = available, -1 = not */
};

typedef struct job {
    struct job *next;
    mk_tdx_provider_t *p;
    uint8_t rd[64];
    int refs;        /* caller + worker (or queue); under W.mu */
    bool done;
    int rc;
    mk_buf_t out;
    mk_error_t err;
} job_t;

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t work, done; /* done: monotonic clock, broadcast when any job ends */
    job_t *head, *tail;
    job_t *running; /* the job the worker is executing, or NULL */
    bool started;
} W = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local bool tls_forced_loop;

bool mk_tdx_on_loop_thread(void) { return tls_forced_loop || mk_loop_current_is_any(); }
void mk_tdx_test_force_loop_thread(bool on) { tls_forced_loop = on; }

static void w_conds_init(void) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&W.done, &a);
    pthread_condattr_destroy(&a);
    pthread_cond_init(&W.work, NULL);
}

/* fork(): the child has no worker thread and no waiting callers; it starts afresh, and the providers'
 * requests that were queued or running in the parent no longer count (their jobs are leaked, not freed:
 * another thread of the parent owned them). */
static void w_prepare(void) { pthread_mutex_lock(&W.mu); }
static void w_parent(void) { pthread_mutex_unlock(&W.mu); }
static void w_child(void) {
    for (job_t *j = W.head; j; j = j->next) j->p->pending--;
    if (W.running) W.running->p->pending--;
    W.head = W.tail = W.running = NULL;
    W.started = false;
    w_conds_init(); /* parent waiters' state is meaningless here */
    pthread_mutex_unlock(&W.mu); /* locked by w_prepare in the thread that forked, which is this one */
}

static void w_init(void) {
    w_conds_init();
    pthread_atfork(w_prepare, w_parent, w_child);
}

/* W.mu held. Drops one reference; the last frees the job and a result nobody will read. */
static void job_unref(job_t *j) {
    if (--j->refs > 0) return;
    mk_buf_free(&j->out);
    free(j);
}

/* W.mu held. Ends a job: result recorded, provider released, waiters woken. */
static void job_finish(job_t *j, int rc) {
    j->rc = rc;
    j->done = true;
    j->p->pending--;
    pthread_cond_broadcast(&W.done);
    job_unref(j);
}

int mk_tdx_provider_check_quote(const uint8_t *q, size_t len, const uint8_t rd[64], mk_error_t *e) {
    if (len > MK_TDX_MAX_QUOTE) return MK_ERR(e, MK_EPROTO, "quote of %zu bytes exceeds %d", len, MK_TDX_MAX_QUOTE);
    mk_tdx_quote_t pq;
    mk_error_t pe = {0};
    if (mk_tdx_quote_parse(q, len, &pq, &pe) != MK_OK)
        return MK_ERR(e, MK_EPROTO, "the provider's quote does not parse: %s", pe.msg);
    if (memcmp(pq.report_data, rd, 64) != 0) return MK_ERR(e, MK_EPROTO, "the quote's REPORTDATA is not ours");
    return MK_OK;
}

static void *worker_main(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&W.mu);
    for (;;) {
        while (!W.head) pthread_cond_wait(&W.work, &W.mu);
        job_t *j = W.head;
        W.head = j->next;
        if (!W.head) W.tail = NULL;
        j->next = NULL;
        W.running = j;
        mk_tdx_provider_t *p = j->p; /* stays alive: free waits for pending == 0 */
        pthread_mutex_unlock(&W.mu);
        mk_buf_t out = MK_BUF_INIT;
        mk_error_t err = {0};
        int rc = p->ops->quote(p->ctx, j->rd, &out, &err);
        if (rc == MK_OK) rc = mk_tdx_provider_check_quote(out.ptr, out.len, j->rd, &err);
        OPENSSL_thread_stop(); /* the idle worker keeps no OpenSSL per-thread state (error queue, …) */
        pthread_mutex_lock(&W.mu);
        W.running = NULL;
        j->out = out;
        j->err = err;
        job_finish(j, rc);
    }
    return NULL;
}

/* W.mu held. */
static int ensure_worker(mk_error_t *e) {
    if (W.started) return MK_OK;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, worker_main, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) return MK_ERR_SYS(e, MK_EIO, rc, "cannot start the TDX worker thread");
    W.started = true;
    return MK_OK;
}

mk_tdx_provider_t *mk_tdx_provider_new(const mk_tdx_provider_ops_t *ops, void *ctx) {
    mk_tdx_provider_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ops = ops;
    p->ctx = ctx;
    atomic_init(&p->avail, 0);
    return p;
}

int mk_tdx_provider_quote(mk_tdx_provider_t *p, const uint8_t rd[64], int timeout_ms, mk_buf_t *q, mk_error_t *e) {
    if (!p || !rd || !q) return MK_ERR(e, MK_EINVAL, "provider, report data and output are required");
    if (mk_tdx_on_loop_thread()) return MK_ERR(e, MK_EBUSY, "a quote cannot be waited for on a network loop thread");
    pthread_once(&W.once, w_init);
    job_t *j = calloc(1, sizeof *j);
    if (!j) return MK_ERR(e, MK_ENOMEM, "out of memory");
    memcpy(j->rd, rd, 64);
    j->p = p;
    j->refs = 2;
    pthread_mutex_lock(&W.mu);
    int rc = p->closing ? MK_ERR(e, MK_ETERMINATED, "the provider is being freed") : ensure_worker(e);
    if (rc != MK_OK) {
        pthread_mutex_unlock(&W.mu);
        free(j);
        return rc;
    }
    p->pending++;
    if (W.tail) W.tail->next = j;
    else W.head = j;
    W.tail = j;
    pthread_cond_signal(&W.work);
    struct timespec dl = mk_deadline_ts(timeout_ms < 0 ? 0 : timeout_ms);
    while (!j->done) {
        if (timeout_ms < 0) pthread_cond_wait(&W.done, &W.mu);
        else if (pthread_cond_timedwait(&W.done, &W.mu, &dl) == ETIMEDOUT) break;
    }
    if (!j->done) {
        rc = MK_ERR(e, MK_ETIMEDOUT, "no quote from the %s provider within %d ms", p->ops->name, timeout_ms);
    } else if ((rc = j->rc) == MK_OK) {
        rc = mk_buf_append(q, j->out.ptr, j->out.len);
        if (rc != MK_OK) MK_ERR(e, rc, "out of memory");
    } else {
        mk_err_copy(e, &j->err);
    }
    job_unref(j); /* after a timeout the worker still holds a reference and discards the late result */
    pthread_mutex_unlock(&W.mu);
    return rc;
}

bool mk_tdx_provider_available(mk_tdx_provider_t *p, int timeout_ms) {
    if (!p) return false;
    int a = atomic_load(&p->avail);
    if (a != 0) return a > 0;
    if (mk_tdx_on_loop_thread()) return false;
    if (p->ops->precheck && !p->ops->precheck(p->ctx)) {
        atomic_store(&p->avail, -1);
        return false;
    }
    static const uint8_t zero[64];
    mk_buf_t q = MK_BUF_INIT;
    int rc = mk_tdx_provider_quote(p, zero, timeout_ms, &q, NULL);
    mk_buf_free(&q);
    if (rc == MK_OK) atomic_store(&p->avail, 1);
    else if (rc != MK_ETIMEDOUT && rc != MK_ETERMINATED && rc != MK_ENOMEM && rc != MK_EAGAIN)
        atomic_store(&p->avail, -1); /* definitive; transient failures are probed again next time */
    return rc == MK_OK;
}

int mk_tdx_local_measurements(mk_tdx_provider_t *p, int timeout_ms, mk_measurements_t *out, mk_error_t *e) {
    if (!out) return MK_ERR(e, MK_EINVAL, "out is required");
    uint8_t rd[64] = {0};
    if (RAND_bytes(rd, 32) != 1) return MK_ERR(e, MK_EIO, "RAND_bytes failed");
    mk_buf_t q = MK_BUF_INIT;
    int rc = mk_tdx_provider_quote(p, rd, timeout_ms, &q, e);
    if (rc == MK_OK) {
        mk_tdx_quote_t pq;
        rc = mk_tdx_quote_parse(q.ptr, q.len, &pq, e);
        if (rc == MK_OK) *out = pq.m;
    }
    mk_buf_free(&q);
    return rc;
}

int mk_tdx_provider_pending(mk_tdx_provider_t *p) {
    pthread_mutex_lock(&W.mu);
    int n = p->pending;
    pthread_mutex_unlock(&W.mu);
    return n;
}

void mk_tdx_provider_free(mk_tdx_provider_t *p) {
    if (!p) return;
    pthread_once(&W.once, w_init);
    pthread_mutex_lock(&W.mu);
    p->closing = true;
    /* Queued jobs of p end now; the running one (if any) is waited for. */
    job_t **pp = &W.head;
    W.tail = NULL;
    while (*pp) {
        job_t *j = *pp;
        if (j->p == p) {
            *pp = j->next;
            j->next = NULL;
            mk_err_set(&j->err, MK_ETERMINATED, "mk_tdx_provider_quote", "the provider was freed");
            job_finish(j, MK_ETERMINATED);
        } else {
            W.tail = j;
            pp = &j->next;
        }
    }
    while (p->pending > 0) pthread_cond_wait(&W.done, &W.mu);
    pthread_mutex_unlock(&W.mu);
    if (p->ops->destroy) p->ops->destroy(p->ctx);
    free(p);
}

const char *mk_tdx_provider_name(const mk_tdx_provider_t *p) { return p && p->ops->name ? p->ops->name : "?"; }
