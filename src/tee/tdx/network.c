/* tee/tdx/network.c — the TDX extension of a network (spec 60 §9): the network's quote provider (the
 * configured one, or configfs-tsm made on first use), TDX tickets for this node (extra data bound into
 * REPORTDATA, a self-check of the fresh quote, encoding), installing one in the discovery entry, and the
 * refresh thread that replaces it before it expires. Quote generation blocks, so none of this runs on
 * the loop thread: the calls refuse there (MK_EBUSY) and the refresh has a thread of its own, started by
 * the first install with a lifetime and joined by mk_tdx_net_shutdown before the network goes away. */
#include "tee/tdx/network.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "net/net.h"
#include "tee/tdx/provider.h"

#include "mosaik/discovery.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LOG(n, lvl, ...) MK_LOGF(MK_MOD_TDX, lvl, mk_net_self(n), __VA_ARGS__)
#define REFRESH_QUOTE_TIMEOUT_MS 30000
#define REFRESH_PUBLISH_TIMEOUT_MS 10000

typedef struct mk_tdx_net {
    mk_network_t *n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_tdx_provider_t *provider; /* under mu; owned when own_provider */
    bool own_provider;
    /* the refresh schedule (under mu) */
    bool thread_started, stop, scheduled;
    pthread_t thread;
    uint64_t lifetime_s, margin_s;
    int64_t expires_ms;          /* of the installed ticket */
    uint64_t generation;         /* bumped by every install: a running refresh of an older one is void */
} mk_tdx_net_t;

static void tdx_net_destroy(void *state) {
    mk_tdx_net_t *t = state;
    if (!t) return;
    if (t->own_provider) mk_tdx_provider_free(t->provider);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int mk_tdx_net_install(mk_network_t *n, mk_tdx_provider_t *provider, mk_error_t *e) {
    mk_tdx_net_t *t = calloc(1, sizeof *t);
    if (!t) return MK_ERR(e, MK_ENOMEM, "out of memory");
    t->n = n;
    t->provider = provider;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    mk_subsystem_t s = {.state = t, .destroy = tdx_net_destroy};
    int rc = mk_net_install(n, MK_SUBSYS_TDX, &s, e);
    if (rc != MK_OK) tdx_net_destroy(t);
    return rc;
}

void mk_tdx_net_shutdown(mk_network_t *n) {
    mk_tdx_net_t *t = mk_net_subsystem(n, MK_SUBSYS_TDX);
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    bool join = t->thread_started;
    t->thread_started = false;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (join) pthread_join(t->thread, NULL);
}

static mk_tdx_net_t *tdx_of(mk_network_t *n, mk_error_t *e) {
    mk_tdx_net_t *t = n ? mk_net_subsystem(n, MK_SUBSYS_TDX) : NULL;
    if (!t) MK_ERR(e, MK_EINVAL, "no network, or a network without the TDX extension");
    return t;
}

/* The network's provider: the configured one, else configfs-tsm made now. */
static mk_tdx_provider_t *provider_of(mk_tdx_net_t *t) {
    pthread_mutex_lock(&t->mu);
    if (!t->provider) {
        t->provider = mk_tdx_provider_configfs(NULL);
        t->own_provider = t->provider != NULL;
    }
    mk_tdx_provider_t *p = t->provider;
    pthread_mutex_unlock(&t->mu);
    return p;
}

bool mk_tdx_available(mk_network_t *n, int timeout_ms) {
    mk_tdx_net_t *t = tdx_of(n, NULL);
    mk_tdx_provider_t *p = t ? provider_of(t) : NULL;
    return p && mk_tdx_provider_available(p, timeout_ms);
}

int mk_tdx_measurements(mk_network_t *n, int timeout_ms, mk_measurements_t *out, mk_error_t *e) {
    mk_tdx_net_t *t = tdx_of(n, e);
    if (!t) return MK_EINVAL;
    if (!out) return MK_ERR(e, MK_EINVAL, "out is NULL");
    mk_tdx_provider_t *p = provider_of(t);
    if (!p) return MK_ERR(e, MK_ENOMEM, "out of memory");
    return mk_tdx_local_measurements(p, timeout_ms, out, e);
}

int mk_tdx_measurement(mk_network_t *n, mk_tdx_reg_t r, int timeout_ms, mk_measurement_t *out, mk_error_t *e) {
    if ((unsigned)r > MK_TDX_RTMR3) return MK_ERR(e, MK_EINVAL, "register %d is not MRTD or RTMR0-3", (int)r);
    if (!out) return MK_ERR(e, MK_EINVAL, "out is NULL");
    mk_measurements_t m;
    int rc = mk_tdx_measurements(n, timeout_ms, &m, e);
    if (rc == MK_OK) *out = *mk_measurements_reg(&m, r);
    return rc;
}

/* A fresh ticket for this node expiring at expires_ms (or NEVER), made with the network's provider. */
static int make_ticket(mk_tdx_net_t *t, mk_expiration_t expires_ms, int timeout_ms, mk_ticket_t **out,
                       mk_error_t *e) {
    mk_network_t *n = t->n;
    int64_t now = mk_unix_ms();
    if (expires_ms != MK_EXPIRES_NEVER && expires_ms <= now)
        return MK_ERR(e, MK_EINVAL, "expires (%lld ms) is not in the future", (long long)expires_ms);
    const mk_peer_entry_t *me = mk_discovery_me(n);
    if (!me) return MK_ERR(e, MK_EINVAL, "the network has no local discovery entry");
    mk_entry_version_t v = mk_peer_entry_version(me);
    mk_peer_entry_unref(me);
    mk_tdx_extra_t x = {.peer_id = mk_network_peer_id(n),
                        .network_id = mk_network_id(n),
                        .started_at_s = (int64_t)(v.start_ms / 1000),
                        .quoted_at_s = now / 1000,
                        .expires = expires_ms == MK_EXPIRES_NEVER ? MK_EXPIRES_NEVER : expires_ms / 1000};
    uint8_t rd[64];
    mk_tdx_extra_report_data(&x, rd);
    mk_tdx_provider_t *p = provider_of(t);
    if (!p) return MK_ERR(e, MK_ENOMEM, "out of memory");
    mk_buf_t q = MK_BUF_INIT;
    int rc = mk_tdx_provider_quote(p, rd, timeout_ms, &q, e);
    if (rc != MK_OK) return rc;
    /* self-check: steps 2-6 of spec 60 §6.2 must pass (the chain is the verifiers' business: a mock quote
     * stops there under the default trust), and the provider already compared the REPORTDATA */
    mk_tdx_check_t failed = MK_TDX_CHK_OK;
    mk_error_t ve = {0};
    rc = mk_tdx_quote_verify(q.ptr, q.len, NULL, now / 1000, NULL, &failed, &ve);
    if (rc != MK_OK && failed < MK_TDX_CHK_PCK_CHAIN) {
        mk_buf_free(&q);
        return MK_ERR(e, MK_EPROTO, "the provider's quote fails its self-check at %s: %s", mk_tdx_check_str(failed),
                      ve.msg);
    }
    rc = mk_tdx_ticket_make(q.ptr, q.len, &x, out, e);
    mk_buf_free(&q);
    if (rc == MK_OK && strcmp(mk_tdx_provider_name(p), "configfs") != 0)
        LOG(n, MK_LOG_WARN, "TDX ticket made with the %s provider: it proves nothing about this machine",
            mk_tdx_provider_name(p));
    return rc;
}

int mk_tdx_ticket(mk_network_t *n, mk_expiration_t expires, int timeout_ms, mk_ticket_t **out, mk_error_t *e) {
    mk_tdx_net_t *t = tdx_of(n, e);
    if (!t) return MK_EINVAL;
    if (!out) return MK_ERR(e, MK_EINVAL, "out is NULL");
    *out = NULL;
    if (mk_network_on_loop(n)) return MK_ERR(e, MK_EBUSY, "a quote cannot be waited for on the loop thread");
    return make_ticket(t, expires, timeout_ms, out, e);
}

/* The margin before expiry at which a ticket of `lifetime` is renewed (spec 60 §9). */
static uint64_t refresh_margin(uint64_t lifetime, uint64_t asked) {
    uint64_t m = asked ? asked : lifetime / 5 > 30 ? lifetime / 5 : 30;
    if (m > lifetime / 2) m = lifetime / 2;
    return m;
}

/* Makes a ticket of the schedule's lifetime and publishes it; under no lock. */
static int install_now(mk_tdx_net_t *t, uint64_t lifetime_s, int timeout_ms, int64_t *expires_ms, mk_error_t *e) {
    int64_t exp = lifetime_s ? mk_unix_ms() + (int64_t)lifetime_s * 1000 : MK_EXPIRES_NEVER;
    mk_ticket_t *tk = NULL;
    int rc = make_ticket(t, exp, timeout_ms, &tk, e);
    if (rc == MK_OK) rc = mk_discovery_replace_ticket(t->n, tk, timeout_ms, e);
    mk_ticket_free(tk);
    if (rc == MK_OK && expires_ms) *expires_ms = exp == MK_EXPIRES_NEVER ? exp : exp / 1000 * 1000;
    return rc;
}

static void wait_until(mk_tdx_net_t *t, int64_t unix_ms) {  /* under mu; returns early on stop or signal */
    int64_t delta = unix_ms - mk_unix_ms();
    if (delta <= 0) return;
    struct timespec ts = mk_deadline_ts(delta > INT32_MAX ? INT32_MAX : (int)delta);  /* CLOCK_MONOTONIC, as cv */
    pthread_cond_timedwait(&t->cv, &t->mu, &ts);
}

static void *refresh_main(void *arg) {
    mk_tdx_net_t *t = arg;
    bool expired_logged = false;
    int64_t retry_at = 0;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (!t->scheduled) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        int64_t due = t->expires_ms - (int64_t)t->margin_s * 1000;
        if (retry_at > due) due = retry_at;
        if (mk_unix_ms() < due) {
            wait_until(t, due);
            continue;
        }
        uint64_t gen = t->generation, lifetime = t->lifetime_s, margin = t->margin_s;
        int64_t old_expiry = t->expires_ms;
        pthread_mutex_unlock(&t->mu);
        int64_t expires = 0;
        mk_error_t e = {0};
        int rc = install_now(t, lifetime, REFRESH_QUOTE_TIMEOUT_MS, &expires, &e);
        pthread_mutex_lock(&t->mu);
        if (gen != t->generation) {  /* replaced by a newer install meanwhile: its schedule stands */
            retry_at = 0;
            continue;
        }
        if (rc == MK_OK) {
            t->expires_ms = expires;
            retry_at = 0;
            expired_logged = false;
            LOG(t->n, MK_LOG_DEBUG, "TDX ticket renewed, expires at %lld ms", (long long)expires);
            continue;
        }
        uint64_t every_ms = margin * 1000 / 4 < 30000 ? margin * 1000 / 4 : 30000;
        if (every_ms < 100) every_ms = 100;
        retry_at = mk_unix_ms() + (int64_t)every_ms;
        if (mk_unix_ms() >= old_expiry && !expired_logged) {
            LOG(t->n, MK_LOG_ERROR, "TDX ticket expired and could not be renewed (%s); still retrying", e.msg);
            expired_logged = true;
        } else {
            LOG(t->n, MK_LOG_WARN, "TDX ticket renewal failed (%s); retrying in %llu ms", e.msg,
                (unsigned long long)every_ms);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int mk_tdx_install_own_ticket(mk_network_t *n, const mk_tdx_install_t *o, int timeout_ms, mk_error_t *e) {
    mk_tdx_net_t *t = tdx_of(n, e);
    if (!t) return MK_EINVAL;
    if (mk_network_on_loop(n)) return MK_ERR(e, MK_EBUSY, "a quote cannot be waited for on the loop thread");
    mk_tdx_install_t opt = o ? *o : (mk_tdx_install_t){0};
    if (opt.lifetime_s > (uint64_t)INT64_MAX / 2000) return MK_ERR(e, MK_EINVAL, "lifetime_s is too large");
    if (opt.lifetime_s && opt.refresh_margin_s >= opt.lifetime_s)
        return MK_ERR(e, MK_EINVAL, "refresh_margin_s (%llu) is not below lifetime_s (%llu)",
                      (unsigned long long)opt.refresh_margin_s, (unsigned long long)opt.lifetime_s);
    pthread_mutex_lock(&t->mu);
    t->generation++;  /* a refresh running now is void */
    t->scheduled = false;
    pthread_mutex_unlock(&t->mu);
    int64_t expires = 0;
    int rc = install_now(t, opt.lifetime_s, timeout_ms, &expires, e);
    if (rc != MK_OK) return rc;
    pthread_mutex_lock(&t->mu);
    t->generation++;
    t->lifetime_s = opt.lifetime_s;
    t->margin_s = refresh_margin(opt.lifetime_s, opt.refresh_margin_s);
    t->expires_ms = expires;
    t->scheduled = opt.lifetime_s && !opt.no_refresh;
    if (t->scheduled && !t->thread_started && !t->stop) {
        if (pthread_create(&t->thread, NULL, refresh_main, t) == 0) t->thread_started = true;
        else rc = MK_ERR(e, MK_ENOMEM, "cannot start the TDX refresh thread (the ticket is installed)");
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return rc;
}
