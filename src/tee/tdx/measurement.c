/* tee/tdx/measurement.c — measurements (hex form, register access) and measurement criteria (matching and
 * the Rust-compatible signature), spec 60 §7. */
#include "mosaik/tdx.h"

#include <string.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int mk_measurement_from_hex(const char *hex, mk_measurement_t *out) {
    if (!hex || !out) return MK_EINVAL;
    mk_measurement_t m;
    for (size_t i = 0; i < 48; i++) {
        int hi = hexval(hex[2 * i]);
        if (hi < 0) return MK_EINVAL;
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0) return MK_EINVAL;
        m.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[96] != '\0') return MK_EINVAL;
    *out = m;
    return MK_OK;
}

void mk_measurement_to_hex(const mk_measurement_t *m, char out[97]) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 48; i++) {
        out[2 * i] = digits[m->b[i] >> 4];
        out[2 * i + 1] = digits[m->b[i] & 15];
    }
    out[96] = '\0';
}

const mk_measurement_t *mk_measurements_reg(const mk_measurements_t *m, mk_tdx_reg_t r) {
    if (!m || (unsigned)r > MK_TDX_RTMR3) return NULL;
    return r == MK_TDX_MRTD ? &m->mrtd : &m->rtmr[r - MK_TDX_RTMR0];
}

void mk_tdx_criteria_require(mk_tdx_criteria_t *c, mk_tdx_reg_t r, const mk_measurement_t *m) {
    if (!c || !m || (unsigned)r > MK_TDX_RTMR3) return;
    c->value[r] = *m;
    c->required = (uint8_t)(c->required | MK_TDX_REG_BIT(r));
}

void mk_tdx_criteria_from_measurements(mk_tdx_criteria_t *c, const mk_measurements_t *m) {
    if (!c || !m) return;
    for (unsigned r = MK_TDX_MRTD; r <= MK_TDX_RTMR3; r++) mk_tdx_criteria_require(c, (mk_tdx_reg_t)r, mk_measurements_reg(m, (mk_tdx_reg_t)r));
}

bool mk_tdx_criteria_matches(const mk_tdx_criteria_t *c, const mk_measurements_t *m) {
    if (!c || !m) return false;
    for (unsigned r = MK_TDX_MRTD; r <= MK_TDX_RTMR3; r++)
        if ((c->required & MK_TDX_REG_BIT(r)) &&
            memcmp(c->value[r].b, mk_measurements_reg(m, (mk_tdx_reg_t)r)->b, 48) != 0)
            return false;
    return true;
}

/* D(D(D(D(D(H("mosaik.tee.tdx.measurements-criteria.v1"), mrtd | 48×09h), rtmr0 | 48×01h), …), rtmr3 | 48×04h) */
mk_id_t mk_tdx_criteria_signature(const mk_tdx_criteria_t *c) {
    static const uint8_t fillers[5] = {0x09, 0x01, 0x02, 0x03, 0x04};
    mk_id_t s = mk_id_from_str("mosaik.tee.tdx.measurements-criteria.v1");
    for (unsigned r = MK_TDX_MRTD; r <= MK_TDX_RTMR3; r++) {
        uint8_t v[48];
        if (c && (c->required & MK_TDX_REG_BIT(r)))
            memcpy(v, c->value[r].b, 48);
        else
            memset(v, fillers[r], 48);
        s = mk_id_derive(&s, v, sizeof v);
    }
    return s;
}
