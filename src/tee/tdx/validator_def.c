/* tee/tdx/validator_def.c — the static form of the Tdx validator (spec 60 §7, §11): an mk_tdx_def_t with
 * hex strings (NULL = any) turned into the validator's configuration when an owner prepares it; a bad
 * field fails with MK_EINVAL naming it ("tdx.variants[1].rtmr2: …"). */
#include "tee/tdx/validator_int.h"

#include "core/error.h"

#include <stdio.h>
#include <string.h>

#define DEF_ERR(e, code, ...) mk_err_set((e), (code), "mk_tdx_validator_vt", __VA_ARGS__)

static int criteria_of(const mk_tdx_def_criteria_t *d, const char *what, mk_tdx_criteria_t *out, mk_error_t *e) {
    const char *hex[5] = {d->mrtd, d->rtmr0, d->rtmr1, d->rtmr2, d->rtmr3};
    static const char *const names[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    memset(out, 0, sizeof *out);
    for (unsigned r = 0; r < 5; r++) {
        if (!hex[r]) continue;
        mk_measurement_t m;
        if (mk_measurement_from_hex(hex[r], &m) != MK_OK)
            return DEF_ERR(e, MK_EINVAL, "%s.%s: not exactly 96 hex digits", what, names[r]);
        mk_tdx_criteria_require(out, (mk_tdx_reg_t)r, &m);
    }
    return MK_OK;
}

int tdx_conf_from_def(const mk_tdx_def_t *def, bool with_collateral, tdx_conf_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    if (!def) return DEF_ERR(e, MK_EINVAL, "tdx: no definition");
    int rc = criteria_of(&def->baseline, "tdx.baseline", &out->baseline, e);
    if (rc != MK_OK) return rc;
    if (def->n_variants && !def->variants) return DEF_ERR(e, MK_EINVAL, "tdx.variants: NULL with n_variants > 0");
    for (size_t i = 0; i < def->n_variants; i++) {
        char what[48];
        snprintf(what, sizeof what, "tdx.variants[%zu]", i);
        mk_tdx_criteria_t c;
        if ((rc = criteria_of(&def->variants[i], what, &c, e)) != MK_OK) goto fail;
        if (tdx_conf_add_variant(out, &c) != MK_OK) {
            rc = DEF_ERR(e, MK_ENOMEM, "out of memory");
            goto fail;
        }
    }
    out->max_age_s = def->max_age_s;
    out->max_lifetime_s = def->max_lifetime_s;
    out->not_before_s = def->not_before_s;
    if (def->trust) {
        mk_tdx_trust_config_t tc = *def->trust;
        if (!with_collateral) tc.collateral_json = NULL;
        mk_error_t te = {0};
        out->trust = mk_tdx_trust_new(&tc, &te);
        if (!out->trust) {
            rc = DEF_ERR(e, te.code == MK_ENOMEM ? MK_ENOMEM : MK_EINVAL, "tdx.trust: %s", te.msg);
            goto fail;
        }
    }
    return MK_OK;
fail:
    tdx_conf_clear(out);
    return rc;
}
