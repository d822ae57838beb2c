/* tee/tdx/trust.c — the trust object (spec 60 §6.1): pinned root (built-in Intel SGX Root CA or a given
 * PEM), collateral swapped atomically under a mutex (verifications hold their own reference), the TCB
 * policy; reference counted; the lazily made process-wide default trust. */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

static X509 *read_root(const char *pem, mk_error_t *e) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!x) MK_ERR(e, MK_EINVAL, "root_pem: not a PEM certificate");
    return x;
}

mk_tdx_trust_t *mk_tdx_trust_new(const mk_tdx_trust_config_t *c, mk_error_t *e) {
    static const mk_tdx_trust_config_t defaults = {0};
    if (!c) c = &defaults;
    mk_tdx_trust_t *t = calloc(1, sizeof *t);
    if (!t) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&t->refs, 1);
    pthread_mutex_init(&t->mu, NULL);
    t->root = read_root(c->root_pem ? c->root_pem : mk_tdx_intel_root_pem(), e);
    if (!t->root) goto fail;
    unsigned fl = 0;
    if (X509_digest(t->root, EVP_sha256(), t->root_fp, &fl) != 1 || fl != 32) {
        MK_ERR(e, MK_ENOMEM, "cannot hash the root certificate");
        goto fail;
    }
    static const uint8_t intel_fp[32] = {0x44, 0xa0, 0x19, 0x6b, 0x2b, 0x99, 0xf8, 0x89, 0xb8, 0xe1, 0x49,
                                         0xe9, 0x5b, 0x80, 0x7a, 0x35, 0x0e, 0x74, 0x24, 0x96, 0x43, 0x99,
                                         0xe8, 0x85, 0xa7, 0xcb, 0xb8, 0xcc, 0xfa, 0xb6, 0x74, 0xd3};
    t->builtin_root = memcmp(t->root_fp, intel_fp, 32) == 0;
    uint32_t all = (1u << MK_TCB_UNKNOWN) - 1; /* the seven real statuses */
    t->accept = (c->accept_tcb ? c->accept_tcb : MK_TCB_ACCEPT_DEFAULT) & all & ~MK_TCB_ACCEPT(MK_TCB_REVOKED);
    t->require_collateral = c->require_collateral;
    t->allow_debug = c->allow_debug;
    if (c->collateral_json) {
        t->coll = mk_tdx_coll_parse(c->collateral_json, strlen(c->collateral_json), e);
        if (!t->coll) goto fail;
    }
    return t;
fail:
    X509_free(t->root);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
}

int mk_tdx_trust_set_collateral(mk_tdx_trust_t *t, const char *json, mk_error_t *e) {
    if (!t) return MK_ERR(e, MK_EINVAL, "t is NULL");
    mk_tdx_coll_t *c = NULL;
    if (json && !(c = mk_tdx_coll_parse(json, strlen(json), e))) return e ? e->code : MK_EPROTO;
    pthread_mutex_lock(&t->mu);
    mk_tdx_coll_t *old = t->coll;
    t->coll = c;
    pthread_mutex_unlock(&t->mu);
    mk_tdx_coll_unref(old);
    return MK_OK;
}

mk_tdx_coll_t *mk_tdx_trust_collateral(const mk_tdx_trust_t *t) {
    mk_tdx_trust_t *m = (mk_tdx_trust_t *)t; /* the mutex only; the trust's settings stay const */
    pthread_mutex_lock(&m->mu);
    mk_tdx_coll_t *c = mk_tdx_coll_ref(m->coll);
    pthread_mutex_unlock(&m->mu);
    return c;
}

mk_tdx_trust_t *mk_tdx_trust_ref(mk_tdx_trust_t *t) {
    if (t) atomic_fetch_add(&t->refs, 1);
    return t;
}

void mk_tdx_trust_free(mk_tdx_trust_t *t) {
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1) return;
    mk_tdx_coll_unref(t->coll);
    X509_free(t->root);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static mk_tdx_trust_t *default_trust;
static void make_default(void) {
    default_trust = mk_tdx_trust_new(NULL, NULL);
    if (default_trust) atomic_store(&default_trust->refs, INT32_MAX / 2); /* never freed */
}

const mk_tdx_trust_t *mk_tdx_trust_default(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_default);
    return default_trust;
}

bool mk_tdx_trust_is_default(const mk_tdx_trust_t *t) {
    if (!t) return true;
    return t->builtin_root && t->accept == MK_TCB_ACCEPT_DEFAULT && !t->require_collateral && !t->allow_debug;
}

void mk_tdx_trust_root_fingerprint(const mk_tdx_trust_t *t, uint8_t out[32]) {
    if (!t) t = mk_tdx_trust_default();
    if (!t) {
        memset(out, 0, 32);
        return;
    }
    memcpy(out, t->root_fp, 32);
}
