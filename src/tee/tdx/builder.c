/* tee/tdx/builder.c — the mk_tdx_validator_t builder (spec 60 §7): baseline criteria, required registers
 * (explicit, hex or this machine's through a quote provider), variants, time rules and the trust;
 * mk_tdx_validator_get freezes it (setters then return MK_EBUSY) and makes the heap validator once, which
 * the builder owns one reference of. Not thread-safe until frozen; the validator is. */
#include "tee/tdx/validator_int.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

struct mk_tdx_validator {
    tdx_conf_t conf;                 /* moved into the validator at get */
    bool frozen;
    const mk_ticket_validator_t *v; /* after get */
};

mk_tdx_validator_t *mk_tdx_validator_new(void) { return calloc(1, sizeof(mk_tdx_validator_t)); }

mk_tdx_validator_t *mk_tdx_validator_baseline(const mk_tdx_criteria_t *c) {
    mk_tdx_validator_t *v = mk_tdx_validator_new();
    if (v && c) {
        v->conf.baseline = *c;
        v->conf.baseline.required &= MK_TDX_REG_ALL;
    }
    return v;
}

mk_tdx_validator_t *mk_tdx_validator_from_local(mk_tdx_provider_t *p, int timeout_ms, mk_error_t *e) {
    if (!p) {
        MK_ERR(e, MK_EINVAL, "provider is NULL");
        return NULL;
    }
    mk_measurements_t m;
    if (mk_tdx_local_measurements(p, timeout_ms, &m, e) != MK_OK) return NULL;
    mk_tdx_criteria_t c = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_from_measurements(&c, &m);
    mk_tdx_validator_t *v = mk_tdx_validator_baseline(&c);
    if (!v) MK_ERR(e, MK_ENOMEM, "out of memory");
    return v;
}

static int settable(mk_tdx_validator_t *v) {
    if (!v) return MK_EINVAL;
    return v->frozen ? MK_EBUSY : MK_OK;
}

int mk_tdx_validator_require(mk_tdx_validator_t *v, mk_tdx_reg_t r, const mk_measurement_t *m) {
    int rc = settable(v);
    if (rc != MK_OK) return rc;
    if (!m || (unsigned)r > MK_TDX_RTMR3) return MK_EINVAL;
    mk_tdx_criteria_require(&v->conf.baseline, r, m);
    return MK_OK;
}

int mk_tdx_validator_require_hex(mk_tdx_validator_t *v, mk_tdx_reg_t r, const char *hex, mk_error_t *e) {
    int rc = settable(v);
    if (rc != MK_OK) return MK_ERR(e, rc, rc == MK_EBUSY ? "the validator is frozen" : "v is NULL");
    if ((unsigned)r > MK_TDX_RTMR3) return MK_ERR(e, MK_EINVAL, "register %u out of range", (unsigned)r);
    mk_measurement_t m;
    if (mk_measurement_from_hex(hex, &m) != MK_OK) return MK_ERR(e, MK_EINVAL, "hex: not exactly 96 hex digits");
    return mk_tdx_validator_require(v, r, &m);
}

int mk_tdx_validator_require_own(mk_tdx_validator_t *v, unsigned regs, mk_tdx_provider_t *p, int timeout_ms,
                                 mk_error_t *e) {
    int rc = settable(v);
    if (rc != MK_OK) return MK_ERR(e, rc, rc == MK_EBUSY ? "the validator is frozen" : "v is NULL");
    if (!p) return MK_ERR(e, MK_EINVAL, "provider is NULL");
    if (regs == 0 || (regs & ~MK_TDX_REG_ALL)) return MK_ERR(e, MK_EINVAL, "regs: 0x%x is not a register mask", regs);
    mk_measurements_t m;
    if ((rc = mk_tdx_local_measurements(p, timeout_ms, &m, e)) != MK_OK) return rc;
    for (unsigned r = MK_TDX_MRTD; r <= MK_TDX_RTMR3; r++)
        if (regs & MK_TDX_REG_BIT(r))
            mk_tdx_criteria_require(&v->conf.baseline, (mk_tdx_reg_t)r, mk_measurements_reg(&m, (mk_tdx_reg_t)r));
    return MK_OK;
}

int mk_tdx_validator_allow_variant(mk_tdx_validator_t *v, const mk_tdx_criteria_t *c) {
    int rc = settable(v);
    if (rc != MK_OK) return rc;
    if (!c) return MK_EINVAL;
    mk_tdx_criteria_t k = *c;
    k.required &= MK_TDX_REG_ALL;
    return tdx_conf_add_variant(&v->conf, &k);
}

int mk_tdx_validator_max_age(mk_tdx_validator_t *v, uint64_t seconds) {
    int rc = settable(v);
    if (rc == MK_OK) v->conf.max_age_s = seconds;
    return rc;
}

int mk_tdx_validator_max_lifetime(mk_tdx_validator_t *v, uint64_t seconds) {
    int rc = settable(v);
    if (rc == MK_OK) v->conf.max_lifetime_s = seconds;
    return rc;
}

int mk_tdx_validator_not_before(mk_tdx_validator_t *v, int64_t unix_s) {
    int rc = settable(v);
    if (rc == MK_OK) v->conf.not_before_s = unix_s;
    return rc;
}

int mk_tdx_validator_trust(mk_tdx_validator_t *v, mk_tdx_trust_t *t) {
    int rc = settable(v);
    if (rc != MK_OK) return rc;
    mk_tdx_trust_t *old = v->conf.trust;
    v->conf.trust = mk_tdx_trust_ref(t);
    mk_tdx_trust_free(old);
    return MK_OK;
}

const mk_ticket_validator_t *mk_tdx_validator_get(mk_tdx_validator_t *v) {
    if (!v) return NULL;
    if (!v->v) {
        v->v = tdx_heap_validator_new(&v->conf); /* takes the configuration */
        if (!v->v) return NULL;                  /* out of memory: stays unfrozen, conf kept */
    }
    v->frozen = true;
    return v->v;
}

void mk_tdx_validator_free(mk_tdx_validator_t *v) {
    if (!v) return;
    mk_ticket_validator_unref(v->v);
    tdx_conf_clear(&v->conf);
    free(v);
}
