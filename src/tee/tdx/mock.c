/* tee/tdx/mock.c — the TDX mock (spec 60 §8; tests and demos only, never chosen implicitly): quotes v4,
 * or v5 with body type 2 (TD report 1.0, 584 bytes) or 3 (1.5, 648 bytes), carrying the configured
 * measurements, TEE_TCB_SVN and TDATTRIBUTES, Intel's QE vendor id, a QE report (test MRSIGNER,
 * ISVPRODID 2, ISVSVN 8, no debug) whose REPORTDATA binds the attestation key and 32 bytes of QE auth
 * data, signed by the seed-derived attestation key, the QE report signed by the mock PCK leaf. */
#include "tee/tdx/mock_int.h"

#include "core/error.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t INTEL_QE_VENDOR[16] = {0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
                                            0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};
static const uint8_t DEFAULT_TCB_SVN[16] = {0x06, 0x01, 0x03};
static const uint8_t DEFAULT_TD_ATTRIBUTES[8] = {0, 0, 0, 0x10}; /* SEPT_VE_DISABLE (bit 28) */
static const uint8_t XFAM[8] = {0xE7, 0x02, 0x06};

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void le16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, size_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The QE report, its binding and its signature by the leaf (fixed per mock). */
static int make_qe_report(mk_tdx_mock_t *m) {
    uint8_t *r = m->qe_report;
    memset(r, 0, 384);
    memcpy(r, mk_mock_cpusvn, 16);
    r[48] = 0x11; /* ATTRIBUTES: INIT | MODE64BIT, DEBUG (bit 1) clear */
    r[56] = 0x03; /* XFRM: x87, SSE */
    mk_mock_derive(m->cfg.seed, "libmosaik.tdx.mock.qe-mrenclave", r + 64, 32);
    memcpy(r + 128, m->qe_mrsigner, 32);
    le16(r + 256, MK_MOCK_QE_ISVPRODID);
    le16(r + 258, MK_MOCK_QE_ISVSVN);
    for (uint8_t i = 0; i < 32; i++) m->qe_auth[i] = i;
    uint8_t bind[96], dg[32];
    memcpy(bind, m->ak.pub + 1, 64);
    memcpy(bind + 64, m->qe_auth, 32);
    SHA256(bind, sizeof bind, r + 320);
    SHA256(r, 384, dg);
    return mk_mock_sign(&m->leaf, dg, m->qe_sig);
}

mk_tdx_mock_t *mk_tdx_mock_new(const mk_tdx_mock_config_t *c, mk_error_t *e) {
    if (!c) {
        MK_ERR(e, MK_EINVAL, "config is required");
        return NULL;
    }
    mk_tdx_mock_config_t cfg = *c;
    if (cfg.quote_version == 0) cfg.quote_version = 4;
    if (cfg.quote_version == 4 && cfg.body_type == 0) cfg.body_type = 2;
    if (cfg.quote_version == 5 && cfg.body_type == 0) cfg.body_type = 3;
    if (cfg.quote_version != 4 && cfg.quote_version != 5) {
        MK_ERR(e, MK_EINVAL, "quote_version must be 4 or 5, not %u", cfg.quote_version);
        return NULL;
    }
    if ((cfg.quote_version == 4 && cfg.body_type != 2) || (cfg.body_type != 2 && cfg.body_type != 3)) {
        MK_ERR(e, MK_EINVAL, "body_type %u is not valid for quote version %u", cfg.body_type, cfg.quote_version);
        return NULL;
    }
    if (all_zero(cfg.tee_tcb_svn, 16)) memcpy(cfg.tee_tcb_svn, DEFAULT_TCB_SVN, 16);
    if (all_zero(cfg.td_attributes, 8)) memcpy(cfg.td_attributes, DEFAULT_TD_ATTRIBUTES, 8);
    mk_tdx_mock_t *m = calloc(1, sizeof *m);
    if (!m) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    const uint8_t *seed = cfg.seed;
    mk_mock_derive(seed, "libmosaik.tdx.mock.qe-mrsigner", m->qe_mrsigner, 32);
    mk_mock_derive(seed, "libmosaik.tdx.mock.qe-id", m->user_data, 16);
    mk_mock_derive(seed, "libmosaik.tdx.mock.mrseam", m->mrseam, 48);
    int rc = mk_mock_key_derive(seed, "libmosaik.tdx.mock.root-key", &m->root, e);
    if (rc == MK_OK) rc = mk_mock_key_derive(seed, "libmosaik.tdx.mock.pck-ca-key", &m->ca, e);
    if (rc == MK_OK) rc = mk_mock_key_derive(seed, "libmosaik.tdx.mock.pck-leaf-key", &m->leaf, e);
    if (rc == MK_OK) rc = mk_mock_key_derive(seed, "libmosaik.tdx.mock.tcb-signing-key", &m->tcb, e);
    if (rc == MK_OK) rc = mk_mock_key_derive(seed, "libmosaik.tdx.mock.attestation-key", &m->ak, e);
    if (rc == MK_OK) rc = mk_mock_certs_make(m, e);
    if (rc == MK_OK && make_qe_report(m) != MK_OK) rc = MK_ERR(e, MK_EIO, "cannot sign the QE report");
    if (rc != MK_OK) {
        mk_tdx_mock_free(m);
        return NULL;
    }
    return m;
}

const char *mk_tdx_mock_root_pem(const mk_tdx_mock_t *m) { return m ? m->root_pem : NULL; }

int mk_tdx_mock_quote(mk_tdx_mock_t *m, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e) {
    if (!m || !rd || !q) return MK_ERR(e, MK_EINVAL, "mock, report data and output are required");
    const mk_tdx_mock_config_t *c = &m->cfg;
    size_t body_len = c->body_type == 3 ? 648 : 584, body_off = c->quote_version == 5 ? 54 : 48;
    size_t s = body_off + body_len, pem_len = strlen(m->chain_pem) + 1; /* the PEM ends in one NUL */
    size_t cert_len = 384 + 64 + 2 + 32 + 2 + 4 + pem_len, sig_len = 64 + 64 + 2 + 4 + cert_len;
    size_t total = s + 4 + sig_len;
    int rc = mk_buf_reserve(q, total);
    if (rc != MK_OK) return MK_ERR(e, rc, "out of memory");
    uint8_t *p = (uint8_t *)q->ptr + q->len;
    memset(p, 0, total);
    le16(p, c->quote_version);
    le16(p + 2, 2);  /* ECDSA-256 with P-256 */
    le32(p + 4, 0x81); /* TDX */
    memcpy(p + 12, INTEL_QE_VENDOR, 16);
    memcpy(p + 28, m->user_data, 20);
    if (c->quote_version == 5) {
        le16(p + 48, c->body_type);
        le32(p + 50, body_len);
    }
    uint8_t *b = p + body_off;
    memcpy(b, c->tee_tcb_svn, 16);
    memcpy(b + 16, m->mrseam, 48);
    memcpy(b + 120, c->td_attributes, 8);
    memcpy(b + 128, XFAM, 8);
    memcpy(b + 136, c->measurements.mrtd.b, 48);
    for (int i = 0; i < 4; i++) memcpy(b + 328 + 48 * i, c->measurements.rtmr[i].b, 48);
    memcpy(b + 520, rd, 64);
    if (c->body_type == 3) memcpy(b + 584, c->tee_tcb_svn, 16); /* TEE_TCB_SVN_2; MRSERVICETD zero */
    uint8_t *sd = p + s, dg[32];
    le32(sd, sig_len);
    SHA256(p, s, dg);
    if (mk_mock_sign(&m->ak, dg, sd + 4) != MK_OK) return MK_ERR(e, MK_EIO, "cannot sign the quote");
    memcpy(sd + 68, m->ak.pub + 1, 64);
    le16(sd + 132, 6);
    le32(sd + 134, cert_len);
    uint8_t *cd = sd + 138;
    memcpy(cd, m->qe_report, 384);
    memcpy(cd + 384, m->qe_sig, 64);
    le16(cd + 448, 32);
    memcpy(cd + 450, m->qe_auth, 32);
    le16(cd + 482, 5);
    le32(cd + 484, pem_len);
    memcpy(cd + 488, m->chain_pem, pem_len);
    q->len += total;
    return MK_OK;
}

void mk_tdx_mock_free(mk_tdx_mock_t *m) {
    if (!m) return;
    X509_free(m->root_x);
    X509_free(m->ca_x);
    X509_free(m->leaf_x);
    X509_free(m->tcb_x);
    free(m->root_pem);
    free(m->ca_pem);
    free(m->tcb_pem);
    free(m->chain_pem);
    mk_mock_key_clear(&m->root);
    mk_mock_key_clear(&m->ca);
    mk_mock_key_clear(&m->leaf);
    mk_mock_key_clear(&m->tcb);
    mk_mock_key_clear(&m->ak);
    free(m);
}
