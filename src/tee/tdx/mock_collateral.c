/* tee/tdx/mock_collateral.c — collateral for the mock's quotes, in the layout of
 * shared/testdata/tdx/tdx_quote_v4_a.collateral.json (spec 60 §6.1, §6.3): PEM issuer chains, hex DER
 * CRLs (root CRL by the root, PCK CRL by the mock PCK Platform CA, listing the leaf when asked), and the
 * TCB info (id TDX, version 3) and QE identity (id TD_QE, version 2) as signed JSON text with raw r‖s
 * signatures by the mock TCB Signing key. The TCB levels put the mock quote on a level with the
 * requested status; the module identity and QE identity match the mock quote and QE report. */
#include "tee/tdx/mock_int.h"

#include "core/error.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const STATUS[] = {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
                                     "ConfigurationAndSWHardeningNeeded", "OutOfDate",
                                     "OutOfDateConfigurationNeeded", "Revoked"};

/* ---- text helpers ---- */

typedef struct sb { char *p; size_t len, cap; bool oom; } sb_t;

static void sb_printf(sb_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *s, const char *fmt, ...) {
    if (s->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { s->oom = true; return; }
        if (s->p && s->len + (size_t)n < s->cap) { s->len += (size_t)n; return; }
        size_t cap = (s->cap ? s->cap * 2 : 1024) + (size_t)n;
        char *np = realloc(s->p, cap);
        if (!np) { s->oom = true; return; }
        s->p = np;
        s->cap = cap;
    }
}

static void sb_hex(sb_t *s, const uint8_t *p, size_t n, bool upper) {
    for (size_t i = 0; i < n; i++) sb_printf(s, upper ? "%02X" : "%02x", p[i]);
}

static void sb_date(sb_t *s, int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) { s->oom = true; return; }
    sb_printf(s, "%s", buf);
}

/* ---- CRLs ---- */

/* A DER CRL by issuer (hex into out): thisUpdate = issue_s, nextUpdate = next_s, optionally one entry. */
static int make_crl(X509 *issuer_x, const mk_mock_key_t *ik, int64_t issue_s, int64_t next_s,
                    const ASN1_INTEGER *revoked, sb_t *out) {
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)issue_s), *t2 = ASN1_TIME_set(NULL, (time_t)next_s);
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();
    uint8_t keyid[20];
    SHA1(ik->pub, sizeof ik->pub, keyid);
    int ok = crl && t1 && t2 && num && ak && X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer_x)) && X509_CRL_set1_lastUpdate(crl, t1) &&
             X509_CRL_set1_nextUpdate(crl, t2) && ASN1_INTEGER_set(num, 1) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1 &&
             (ak->keyid = ASN1_OCTET_STRING_new()) && ASN1_OCTET_STRING_set(ak->keyid, keyid, 20) &&
             X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, ak, 0, 0) == 1;
    if (ok && revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        ok = r && X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)(uintptr_t)revoked) &&
             X509_REVOKED_set_revocationDate(r, t1) && X509_CRL_add0_revoked(crl, r);
        if (!ok) X509_REVOKED_free(r);
        ok = ok && X509_CRL_sort(crl);
    }
    ok = ok && X509_CRL_sign(crl, ik->pkey, EVP_sha256()) > 0;
    /* deterministic signature, as for the certificates */
    unsigned char *tbs = NULL, *der = NULL;
    int tl = ok ? i2d_re_X509_CRL_tbs(crl, &tbs) : 0;
    const ASN1_BIT_STRING *csig = NULL;
    if (ok) X509_CRL_get0_signature(crl, &csig, NULL);
    ASN1_BIT_STRING *sig = (ASN1_BIT_STRING *)(uintptr_t)csig;
    uint8_t dg[32], sd[80];
    size_t sl = 0;
    ok = ok && tl > 0 && sig && SHA256(tbs, (size_t)tl, dg) && mk_mock_sign_der(ik, dg, sd, &sl) == MK_OK &&
         ASN1_BIT_STRING_set(sig, sd, (int)sl);
    if (ok) {
        sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
        sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    }
    int dl = ok ? i2d_X509_CRL(crl, &der) : 0;
    if (dl > 0) sb_hex(out, der, (size_t)dl, false);
    ok = ok && dl > 0;
    OPENSSL_free(der);
    OPENSSL_free(tbs);
    AUTHORITY_KEYID_free(ak);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return ok ? MK_OK : MK_EIO;
}

/* ---- TCB info and QE identity ---- */

static void components(sb_t *s, const char *name, const uint8_t svn[16]) {
    sb_printf(s, "\"%s\":[", name);
    for (int i = 0; i < 16; i++) sb_printf(s, "%s{\"svn\":%u}", i ? "," : "", svn[i]);
    sb_printf(s, "]");
}

static void tcb_level(sb_t *s, const uint8_t sgx[16], unsigned pcesvn, const uint8_t tdx[16], const char *date,
                      mk_tcb_status_t st) {
    sb_printf(s, "{\"tcb\":{");
    components(s, "sgxtcbcomponents", sgx);
    sb_printf(s, ",\"pcesvn\":%u,", pcesvn);
    components(s, "tdxtcbcomponents", tdx);
    sb_printf(s, "},\"tcbDate\":\"%s\",\"tcbStatus\":\"%s\"", date, STATUS[st]);
    if (st != MK_TCB_UP_TO_DATE) sb_printf(s, ",\"advisoryIDs\":[\"INTEL-SA-00000\",\"MOCK-SA-%05u\"]", (unsigned)st);
    sb_printf(s, "}");
}

static void module_fields(sb_t *s) {
    static const uint8_t zero48[48];
    sb_printf(s, "\"mrsigner\":\""); /* MRSIGNERSEAM of the mock quote: zero, as Intel's module */
    sb_hex(s, zero48, 48, true);
    sb_printf(s, "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"");
}

static void tcb_info(sb_t *s, const mk_tdx_mock_t *m, mk_tcb_status_t st, int64_t issue, int64_t next) {
    const uint8_t *svn = m->cfg.tee_tcb_svn;
    sb_printf(s, "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"");
    sb_date(s, issue);
    sb_printf(s, "\",\"nextUpdate\":\"");
    sb_date(s, next);
    sb_printf(s, "\",\"fmspc\":\"");
    sb_hex(s, mk_mock_fmspc, 6, true);
    sb_printf(s, "\",\"pceId\":\"");
    sb_hex(s, mk_mock_pceid, 2, true);
    sb_printf(s, "\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tdxModule\":{");
    module_fields(s);
    sb_printf(s, "},\"tdxModuleIdentities\":[{\"id\":\"TDX_%02X\",", svn[1]);
    module_fields(s);
    sb_printf(s, ",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2024-03-13T00:00:00Z\","
                 "\"tcbStatus\":\"UpToDate\"}]}],\"tcbLevels\":[", svn[0]);
    if (st != MK_TCB_UP_TO_DATE) { /* a newer platform TCB the mock does not reach */
        uint8_t up[16];
        memcpy(up, mk_mock_cpusvn, 16);
        up[0]++;
        tcb_level(s, up, MK_MOCK_PCESVN, svn, "2025-01-01T00:00:00Z", MK_TCB_UP_TO_DATE);
        sb_printf(s, ",");
    }
    tcb_level(s, mk_mock_cpusvn, MK_MOCK_PCESVN, svn, "2024-03-13T00:00:00Z", st);
    static const uint8_t zero16[16];
    sb_printf(s, ",");
    tcb_level(s, zero16, 5, zero16, "2018-01-04T00:00:00Z", MK_TCB_OUT_OF_DATE);
    sb_printf(s, "]}");
}

static void qe_identity(sb_t *s, const mk_tdx_mock_t *m, int64_t issue, int64_t next) {
    sb_printf(s, "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"");
    sb_date(s, issue);
    sb_printf(s, "\",\"nextUpdate\":\"");
    sb_date(s, next);
    sb_printf(s, "\",\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
                 "\"attributes\":\"11000000000000000000000000000000\","
                 "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"");
    sb_hex(s, m->qe_mrsigner, 32, true);
    sb_printf(s, "\",\"isvprodid\":%u,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2024-03-13T00:00:00Z\","
                 "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2023-08-09T00:00:00Z\","
                 "\"tcbStatus\":\"OutOfDate\"}]}",
              MK_MOCK_QE_ISVPRODID, MK_MOCK_QE_ISVSVN);
}

/* Signs text with the TCB Signing key: hex of raw r‖s. */
static int sign_text(const mk_tdx_mock_t *m, const sb_t *text, sb_t *hex) {
    uint8_t dg[32], rs[64];
    SHA256((const uint8_t *)text->p, text->len, dg);
    if (mk_mock_sign(&m->tcb, dg, rs) != MK_OK) return MK_EIO;
    sb_hex(hex, rs, 64, false);
    return MK_OK;
}

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

int mk_tdx_mock_collateral(mk_tdx_mock_t *m, mk_tcb_status_t s, int64_t issue_s, int64_t next_update_s,
                           bool revoke_leaf, mk_buf_t *json, mk_error_t *e) {
    if (!m || !json) return MK_ERR(e, MK_EINVAL, "mock and output are required");
    if ((unsigned)s > MK_TCB_REVOKED) return MK_ERR(e, MK_EINVAL, "status %d has no TCB level", (int)s);
    if (issue_s < 0 || next_update_s < issue_s) return MK_ERR(e, MK_EINVAL, "next_update_s must not precede issue_s");
    sb_t root_crl = {0}, pck_crl = {0}, tcb = {0}, tcb_sig = {0}, qe = {0}, qe_sig = {0};
    char *tcb_chain = concat(m->tcb_pem, m->root_pem), *pck_chain = concat(m->ca_pem, m->root_pem);
    int rc = make_crl(m->root_x, &m->root, issue_s, next_update_s, NULL, &root_crl);
    if (rc == MK_OK)
        rc = make_crl(m->ca_x, &m->ca, issue_s, next_update_s, revoke_leaf ? X509_get0_serialNumber(m->leaf_x) : NULL,
                      &pck_crl);
    tcb_info(&tcb, m, s, issue_s, next_update_s);
    qe_identity(&qe, m, issue_s, next_update_s);
    if (rc == MK_OK && !tcb.oom && !qe.oom) rc = sign_text(m, &tcb, &tcb_sig);
    if (rc == MK_OK) rc = sign_text(m, &qe, &qe_sig);
    json_t *o = json_object();
    char *text = NULL;
    bool oom = !tcb_chain || !pck_chain || !o || root_crl.oom || pck_crl.oom || tcb.oom || tcb_sig.oom || qe.oom ||
               qe_sig.oom;
    if (rc == MK_OK && !oom) {
        json_object_set_new(o, "pck_crl_issuer_chain", json_string(pck_chain));
        json_object_set_new(o, "root_ca_crl", json_stringn(root_crl.p, root_crl.len));
        json_object_set_new(o, "pck_crl", json_stringn(pck_crl.p, pck_crl.len));
        json_object_set_new(o, "tcb_info_issuer_chain", json_string(tcb_chain));
        json_object_set_new(o, "tcb_info", json_stringn(tcb.p, tcb.len));
        json_object_set_new(o, "tcb_info_signature", json_stringn(tcb_sig.p, tcb_sig.len));
        json_object_set_new(o, "qe_identity_issuer_chain", json_string(tcb_chain));
        json_object_set_new(o, "qe_identity", json_stringn(qe.p, qe.len));
        json_object_set_new(o, "qe_identity_signature", json_stringn(qe_sig.p, qe_sig.len));
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        oom = !text || json_object_size(o) != 9;
    }
    if (rc == MK_OK && !oom) {
        size_t n = strlen(text);
        rc = mk_buf_reserve(json, n + 1); /* the text stays NUL-terminated (the NUL is not counted) */
        if (rc == MK_OK) {
            memcpy((char *)json->ptr + json->len, text, n + 1);
            json->len += n;
        }
    }
    if (rc == MK_OK && oom) rc = MK_ENOMEM;
    if (rc != MK_OK) MK_ERR(e, rc, rc == MK_ENOMEM ? "out of memory" : "cannot sign the mock collateral");
    free(text);
    json_decref(o);
    free(tcb_chain);
    free(pck_chain);
    free(root_crl.p);
    free(pck_crl.p);
    free(tcb.p);
    free(tcb_sig.p);
    free(qe.p);
    free(qe_sig.p);
    return rc;
}
