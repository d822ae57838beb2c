/* tee/tdx/tcb_match.c — the signed JSON of the collateral against the quote (spec 60 §6.3 items 3, 5, 6,
 * 7): TCB info (id, version, dates, FMSPC, PCE-ID, platform TCB levels, TDX module identity) and QE
 * identity (id, version, dates, MRSIGNER, ISVPRODID, masked MISCSELECT / ATTRIBUTES, debug bit, levels).
 * Texts were signature-checked by the caller; here they are parsed with jansson (duplicates rejected). */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 1024

typedef struct ctx {
    mk_ticket_reason_t *reason;
    mk_error_t *e;
    const char *what; /* "tcb_info" or "qe_identity" */
} ctx_t;

static int malformed(ctx_t *c, const char *field) {
    *c->reason = MK_TICKET_MALFORMED;
    return TDX_ERR(c->e, MK_EPROTO, "collateral: %s: %s missing or malformed", c->what, field);
}

/* The object's "tcbLevels" array (1..MAX_LEVELS elements) and a zeroed array of n elements of `size`
 * for what is read from them (free it). */
static int levels_of(ctx_t *c, json_t *root, size_t size, json_t **levels, void **out, size_t *n) {
    *levels = json_object_get(root, "tcbLevels");
    *n = json_array_size(*levels);
    if (!json_is_array(*levels) || *n == 0 || *n > MAX_LEVELS) return malformed(c, "tcbLevels");
    if (!(*out = calloc(*n, size))) {
        *c->reason = MK_TICKET_INTERNAL;
        return TDX_ERR(c->e, MK_ENOMEM, "out of memory");
    }
    return MK_OK;
}

static bool get_int(json_t *o, const char *k, int64_t max, int64_t *out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > max) return false;
    *out = (int64_t)x;
    return true;
}

static bool get_hex(json_t *o, const char *k, uint8_t *out, size_t n) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && mk_tdx_hex_decode(json_string_value(v), json_string_length(v), out, n);
}

static bool parse_status(json_t *o, mk_tcb_status_t *st) {
    const char *s = json_string_value(json_object_get(o, "tcbStatus"));
    if (!s) return false;
    for (int i = MK_TCB_UP_TO_DATE; i < MK_TCB_UNKNOWN; i++)
        if (!strcmp(s, mk_tcb_status_str((mk_tcb_status_t)i))) {
            *st = (mk_tcb_status_t)i;
            return true;
        }
    return false;
}

/* Appends a level's advisoryIDs (optional array of strings) to rep, without duplicates. */
static bool add_advisories(json_t *level, mk_tdx_report_t *rep) {
    json_t *a = json_object_get(level, "advisoryIDs");
    if (!a) return true;
    if (!json_is_array(a)) return false;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *id = json_string_value(v);
        if (!id || !*id || strchr(id, ',')) return false;
        size_t n = strlen(id), have = strlen(rep->advisories);
        bool dup = false;
        for (const char *p = rep->advisories; *p;) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            if (l == n && !memcmp(p, id, n)) dup = true;
            p += l + (comma ? 1 : 0);
        }
        if (dup) continue;
        if (have + (have ? 1 : 0) + n + 1 > sizeof rep->advisories) continue; /* full: the list is truncated */
        if (have) rep->advisories[have++] = ',';
        memcpy(rep->advisories + have, id, n + 1);
    }
    return true;
}

/* id, version and the issueDate ≤ now ≤ nextUpdate window. */
static int header(ctx_t *c, json_t *o, const char *id, int64_t version, int64_t now, int64_t *next) {
    const char *s = json_string_value(json_object_get(o, "id"));
    int64_t v, iss, nu;
    if (!s) return malformed(c, "id");
    if (strcmp(s, id) != 0) {
        *c->reason = MK_TICKET_MALFORMED;
        return TDX_ERR(c->e, MK_EPROTO, "collateral: %s: id is not %s", c->what, id);
    }
    if (!get_int(o, "version", INT32_MAX, &v) || v != version) {
        *c->reason = MK_TICKET_MALFORMED; /* §6.3: collateral failures are one of five reasons */
        return TDX_ERR(c->e, MK_EPROTO, "collateral: %s: version is not %lld", c->what, (long long)version);
    }
    if (!mk_tdx_parse_date(json_string_value(json_object_get(o, "issueDate")), &iss)) return malformed(c, "issueDate");
    if (!mk_tdx_parse_date(json_string_value(json_object_get(o, "nextUpdate")), &nu)) return malformed(c, "nextUpdate");
    if (now < iss || now > nu) {
        *c->reason = MK_TICKET_EXPIRED;
        return TDX_ERR(c->e, MK_EDENIED, "collateral: %s is %s at %lld (valid %lld to %lld)", c->what,
                      now < iss ? "not yet valid" : "expired", (long long)now, (long long)iss, (long long)nu);
    }
    if (nu < *next) *next = nu;
    return MK_OK;
}

static int policy(ctx_t *c, const char *msg) {
    *c->reason = MK_TICKET_POLICY;
    return TDX_ERR(c->e, MK_EDENIED, "collateral: %s: %s", c->what, msg);
}

typedef struct level {
    uint8_t sgx[16], tdx[16];
    int64_t pcesvn;
    json_t *obj;
} level_t;

static int cmp_level_desc(const void *a, const void *b) {
    const level_t *x = a, *y = b;
    int r = memcmp(y->sgx, x->sgx, 16);
    if (r) return r;
    if (x->pcesvn != y->pcesvn) return x->pcesvn < y->pcesvn ? 1 : -1;
    return memcmp(y->tdx, x->tdx, 16);
}

static bool components(json_t *tcb, const char *k, uint8_t out[16]) {
    json_t *a = json_object_get(tcb, k);
    if (!json_is_array(a) || json_array_size(a) != 16) return false;
    for (size_t i = 0; i < 16; i++) {
        int64_t v;
        if (!json_is_object(json_array_get(a, i)) || !get_int(json_array_get(a, i), "svn", 255, &v)) return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

/* §6.3 item 6: the TDX module identity; *st = its status (UpToDate for the plain tdxModule). */
static int module_check(ctx_t *c, json_t *root, const mk_tdx_quote_t *q, mk_tcb_status_t *st, mk_tdx_report_t *rep) {
    json_t *ids = json_object_get(root, "tdxModuleIdentities"), *mod = NULL;
    if (ids && !json_is_array(ids)) return malformed(c, "tdxModuleIdentities");
    bool identity = q->tee_tcb_svn[1] > 0 && ids && json_array_size(ids) > 0;
    if (identity) {
        char want[8];
        snprintf(want, sizeof want, "TDX_%02X", q->tee_tcb_svn[1]);
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
            const char *id = json_string_value(json_object_get(v, "id"));
            if (!id) return malformed(c, "tdxModuleIdentities[].id");
            if (!strcasecmp(id, want)) {
                mod = v;
                break;
            }
        }
        if (!mod) return policy(c, "no tdx module identity for the quote's module");
    } else {
        mod = json_object_get(root, "tdxModule");
        if (!json_is_object(mod)) return malformed(c, "tdxModule");
    }
    uint8_t mrsigner[48], attr[8], mask[8];
    if (!get_hex(mod, "mrsigner", mrsigner, 48)) return malformed(c, "tdx module mrsigner");
    if (!get_hex(mod, "attributes", attr, 8)) return malformed(c, "tdx module attributes");
    if (!get_hex(mod, "attributesMask", mask, 8)) return malformed(c, "tdx module attributesMask");
    if (memcmp(mrsigner, q->mrsignerseam, 48) != 0) return policy(c, "MRSIGNERSEAM differs from the tdx module's mrsigner");
    for (size_t i = 0; i < 8; i++)
        if ((q->seam_attributes[i] & mask[i]) != (attr[i] & mask[i]) || (q->seam_attributes[i] & ~mask[i]))
            return policy(c, "SEAMATTRIBUTES differ from the tdx module's attributes");
    *st = MK_TCB_UP_TO_DATE;
    if (!identity) return MK_OK;
    json_t *levels = json_object_get(mod, "tcbLevels");
    if (!json_is_array(levels)) return malformed(c, "tdx module tcbLevels");
    size_t i;
    json_t *lv;
    json_array_foreach(levels, i, lv) {
        int64_t isvsvn;
        if (!get_int(json_object_get(lv, "tcb"), "isvsvn", 255, &isvsvn)) return malformed(c, "tdx module tcbLevels[].tcb.isvsvn");
        if (isvsvn <= q->tee_tcb_svn[0]) {
            if (!parse_status(lv, st)) return malformed(c, "tdx module tcbStatus");
            if (!add_advisories(lv, rep)) return malformed(c, "tdx module advisoryIDs");
            return MK_OK;
        }
    }
    return policy(c, "no tdx module tcb level matches the quote's TEE_TCB_SVN");
}

int mk_tdx_tcb_match(const char *tcb_info, size_t len, const mk_tdx_quote_t *q, const mk_tdx_pck_ext_t *x,
                     int64_t now, mk_tcb_status_t *st, int64_t *next_update, mk_tdx_report_t *rep,
                     mk_ticket_reason_t *reason, mk_error_t *e) {
    ctx_t c = {reason, e, "tcb_info"};
    json_error_t je;
    json_t *root = json_loadb(tcb_info, len, JSON_REJECT_DUPLICATES, &je);
    level_t *lv = NULL;
    int rc;
    if (!json_is_object(root)) {
        rc = malformed(&c, "the JSON object");
        goto out;
    }
    if ((rc = header(&c, root, "TDX", 3, now, next_update)) != MK_OK) goto out;
    uint8_t fmspc[6], pceid[2];
    if (!get_hex(root, "fmspc", fmspc, 6)) {
        rc = malformed(&c, "fmspc");
        goto out;
    }
    if (!get_hex(root, "pceId", pceid, 2)) {
        rc = malformed(&c, "pceId");
        goto out;
    }
    if (memcmp(fmspc, x->fmspc, 6) != 0) {
        *reason = MK_TICKET_POLICY;
        rc = TDX_ERR(e, MK_EDENIED, "collateral: tcb_info: fmspc %02X%02X%02X%02X%02X%02X is not the pck's %02X%02X%02X%02X%02X%02X",
                    fmspc[0], fmspc[1], fmspc[2], fmspc[3], fmspc[4], fmspc[5], x->fmspc[0], x->fmspc[1], x->fmspc[2],
                    x->fmspc[3], x->fmspc[4], x->fmspc[5]);
        goto out;
    }
    if (memcmp(pceid, x->pceid, 2) != 0) {
        rc = policy(&c, "pceId is not the pck's");
        goto out;
    }
    /* 5. platform level */
    json_t *levels;
    size_t n;
    void *mem = NULL;
    if ((rc = levels_of(&c, root, sizeof *lv, &levels, &mem, &n)) != MK_OK) goto out;
    lv = mem;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(levels, i), *tcb = json_object_get(l, "tcb");
        if (!components(tcb, "sgxtcbcomponents", lv[i].sgx) || !components(tcb, "tdxtcbcomponents", lv[i].tdx) ||
            !get_int(tcb, "pcesvn", 65535, &lv[i].pcesvn)) {
            rc = malformed(&c, "tcbLevels[].tcb");
            goto out;
        }
        mk_tcb_status_t dummy;
        if (!parse_status(l, &dummy)) {
            rc = malformed(&c, "tcbLevels[].tcbStatus");
            goto out;
        }
        lv[i].obj = l;
    }
    qsort(lv, n, sizeof *lv, cmp_level_desc);
    level_t *match = NULL;
    for (size_t i = 0; i < n && !match; i++) {
        bool ok = x->pcesvn >= lv[i].pcesvn;
        for (size_t k = 0; k < 16 && ok; k++) ok = x->comp[k] >= lv[i].sgx[k] && q->tee_tcb_svn[k] >= lv[i].tdx[k];
        if (ok) match = &lv[i];
    }
    if (!match) {
        rc = policy(&c, "no tcb level matches the platform (tcb not supported)");
        goto out;
    }
    mk_tcb_status_t plat, mod;
    parse_status(match->obj, &plat);
    if (!add_advisories(match->obj, rep)) {
        rc = malformed(&c, "tcbLevels[].advisoryIDs");
        goto out;
    }
    /* 6. TDX module */
    if ((rc = module_check(&c, root, q, &mod, rep)) != MK_OK) goto out;
    *st = (int)mod > (int)plat ? mod : plat;
    rc = MK_OK;
out:
    free(lv);
    json_decref(root);
    return rc;
}

typedef struct qe_level {
    int64_t isvsvn;
    json_t *obj;
} qe_level_t;

static int cmp_qe_desc(const void *a, const void *b) {
    const qe_level_t *x = a, *y = b;
    return x->isvsvn < y->isvsvn ? 1 : x->isvsvn > y->isvsvn ? -1 : 0;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

int mk_tdx_qe_match(const char *qe_identity, size_t len, const mk_tdx_quote_t *q, int64_t now, mk_tcb_status_t *st,
                    int64_t *next_update, mk_tdx_report_t *rep, mk_ticket_reason_t *reason, mk_error_t *e) {
    ctx_t c = {reason, e, "qe_identity"};
    json_error_t je;
    json_t *root = json_loadb(qe_identity, len, JSON_REJECT_DUPLICATES, &je);
    qe_level_t *lv = NULL;
    int rc;
    if (!json_is_object(root)) {
        rc = malformed(&c, "the JSON object");
        goto out;
    }
    if ((rc = header(&c, root, "TD_QE", 2, now, next_update)) != MK_OK) goto out;
    const uint8_t *r = q->qe_report;
    uint8_t mrsigner[32], misc[4], misc_mask[4], attr[16], attr_mask[16];
    int64_t prodid;
    if (!get_hex(root, "mrsigner", mrsigner, 32)) {
        rc = malformed(&c, "mrsigner");
        goto out;
    }
    if (!get_int(root, "isvprodid", 65535, &prodid)) {
        rc = malformed(&c, "isvprodid");
        goto out;
    }
    if (!get_hex(root, "miscselect", misc, 4) || !get_hex(root, "miscselectMask", misc_mask, 4)) {
        rc = malformed(&c, "miscselect");
        goto out;
    }
    if (!get_hex(root, "attributes", attr, 16) || !get_hex(root, "attributesMask", attr_mask, 16)) {
        rc = malformed(&c, "attributes");
        goto out;
    }
    if (memcmp(mrsigner, r + 128, 32) != 0) {
        rc = policy(&c, "the QE's MRSIGNER is not the identity's");
        goto out;
    }
    if (rd16(r + 256) != prodid) {
        rc = policy(&c, "the QE's ISVPRODID is not the identity's");
        goto out;
    }
    /* miscselect is written as a big-endian hex number; the report holds it little-endian */
    for (size_t i = 0; i < 4; i++)
        if ((r[16 + i] & misc_mask[3 - i]) != (misc[3 - i] & misc_mask[3 - i])) {
            rc = policy(&c, "the QE's MISCSELECT does not match");
            goto out;
        }
    for (size_t i = 0; i < 16; i++)
        if ((r[48 + i] & attr_mask[i]) != (attr[i] & attr_mask[i])) {
            rc = policy(&c, "the QE's ATTRIBUTES do not match");
            goto out;
        }
    if (r[48] & 0x02) {
        rc = policy(&c, "the QE is a debug enclave");
        goto out;
    }
    json_t *levels;
    size_t n;
    void *mem = NULL;
    if ((rc = levels_of(&c, root, sizeof *lv, &levels, &mem, &n)) != MK_OK) goto out;
    lv = mem;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(levels, i);
        mk_tcb_status_t dummy;
        if (!get_int(json_object_get(l, "tcb"), "isvsvn", 65535, &lv[i].isvsvn) || !parse_status(l, &dummy)) {
            rc = malformed(&c, "tcbLevels[]");
            goto out;
        }
        lv[i].obj = l;
    }
    qsort(lv, n, sizeof *lv, cmp_qe_desc);
    uint16_t isvsvn = rd16(r + 258);
    for (size_t i = 0; i < n; i++)
        if (lv[i].isvsvn <= isvsvn) {
            parse_status(lv[i].obj, st);
            if (!add_advisories(lv[i].obj, rep)) {
                rc = malformed(&c, "tcbLevels[].advisoryIDs");
                goto out;
            }
            rc = MK_OK;
            goto out;
        }
    rc = policy(&c, "no QE tcb level matches the QE's ISVSVN");
out:
    free(lv);
    json_decref(root);
    return rc;
}
