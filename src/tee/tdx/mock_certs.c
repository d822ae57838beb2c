/* tee/tdx/mock_certs.c — the mock's test PCK chain (spec 60 §8): `CN=libmosaik TDX Mock Root CA` →
 * `CN=libmosaik Mock PCK Platform CA` → leaf `CN=libmosaik Mock PCK Certificate` carrying an Intel SGX
 * extension (OID 1.2.840.113741.1.13.1, structured like Intel's: PPID, TCB with 16 component SVNs,
 * PCESVN and CPUSVN, PCE-ID, FMSPC, SGX type, platform instance id, configuration), plus `CN=libmosaik Mock TCB Signing` under the root for
 * collateral. Extensions as Intel's (AKI, SKI, critical key usage and basic constraints), valid
 * 2020-01-01 to 2099-12-31, ECDSA-SHA256 with deterministic signatures: same seed, same DER. */
#include "tee/tdx/mock_int.h"

#include "core/error.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

const uint8_t mk_mock_cpusvn[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
const uint8_t mk_mock_fmspc[6] = {0x30, 0x80, 0x6F, 0x00, 0x00, 0x00};
const uint8_t mk_mock_pceid[2] = {0, 0};

/* ---- a tiny DER writer for the SGX extension ---- */

static int der_put(mk_buf_t *b, uint8_t tag, const void *p, size_t n) {
    uint8_t h[4] = {tag};
    size_t hl;
    if (n < 0x80) { h[1] = (uint8_t)n; hl = 2; }
    else if (n < 0x100) { h[1] = 0x81; h[2] = (uint8_t)n; hl = 3; }
    else { h[1] = 0x82; h[2] = (uint8_t)(n >> 8); h[3] = (uint8_t)n; hl = 4; }
    return mk_buf_append(b, h, hl) == MK_OK && mk_buf_append(b, p, n) == MK_OK ? MK_OK : MK_ENOMEM;
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<sub>, value } appended to b. */
static int sgx_item(mk_buf_t *b, const uint8_t *sub, size_t nsub, uint8_t vtag, const void *v, size_t vn) {
    static const uint8_t base[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};
    uint8_t oid[16];
    memcpy(oid, base, sizeof base);
    memcpy(oid + sizeof base, sub, nsub);
    mk_buf_t t = MK_BUF_INIT;
    int rc = der_put(&t, 0x06, oid, sizeof base + nsub);
    if (rc == MK_OK) rc = der_put(&t, vtag, v, vn);
    if (rc == MK_OK) rc = der_put(b, 0x30, t.ptr, t.len);
    mk_buf_free(&t);
    return rc;
}

static int sgx_int(mk_buf_t *b, const uint8_t *sub, size_t nsub, unsigned v) {
    uint8_t x[3];
    size_t n;
    if (v < 0x80) { x[0] = (uint8_t)v; n = 1; }
    else if (v < 0x8000) { x[0] = (uint8_t)(v >> 8); x[1] = (uint8_t)v; n = 2; }
    else { x[0] = 0; x[1] = (uint8_t)(v >> 8); x[2] = (uint8_t)v; n = 3; }
    return sgx_item(b, sub, nsub, 0x02, x, n);
}

static int sgx_extension(const uint8_t seed[32], mk_buf_t *out) {
    mk_buf_t items = MK_BUF_INIT, tcb = MK_BUF_INIT, conf = MK_BUF_INIT;
    uint8_t ppid[16], one = 1;
    mk_mock_derive(seed, "libmosaik.tdx.mock.ppid", ppid, sizeof ppid);
    int rc = sgx_item(&items, &one, 1, 0x04, ppid, sizeof ppid);
    for (uint8_t i = 1; rc == MK_OK && i <= 16; i++) rc = sgx_int(&tcb, (const uint8_t[]){2, i}, 2, mk_mock_cpusvn[i - 1]);
    if (rc == MK_OK) rc = sgx_int(&tcb, (const uint8_t[]){2, 17}, 2, MK_MOCK_PCESVN);
    if (rc == MK_OK) rc = sgx_item(&tcb, (const uint8_t[]){2, 18}, 2, 0x04, mk_mock_cpusvn, 16);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){2}, 1, 0x30, tcb.ptr, tcb.len);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){3}, 1, 0x04, mk_mock_pceid, 2);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){4}, 1, 0x04, mk_mock_fmspc, 6);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){5}, 1, 0x0A, &one, 1); /* SGX type: Scalable */
    uint8_t instance[16], yes = 0xFF;
    mk_mock_derive(seed, "libmosaik.tdx.mock.platform-instance", instance, sizeof instance);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){6}, 1, 0x04, instance, sizeof instance);
    /* .7 Configuration: dynamicPlatform, cachedKeys, SMTEnabled, all TRUE as in Intel's leaf */
    for (uint8_t i = 1; rc == MK_OK && i <= 3; i++) rc = sgx_item(&conf, (const uint8_t[]){7, i}, 2, 0x01, &yes, 1);
    if (rc == MK_OK) rc = sgx_item(&items, (const uint8_t[]){7}, 1, 0x30, conf.ptr, conf.len);
    if (rc == MK_OK) rc = der_put(out, 0x30, items.ptr, items.len);
    mk_buf_free(&items);
    mk_buf_free(&tcb);
    mk_buf_free(&conf);
    return rc;
}

/* ---- certificates ---- */

typedef struct cert_spec {
    const char *cn;
    const char *serial_label;
    bool ca;
    int pathlen;
} cert_spec_t;

static int add_ext_conf(X509 *x, int nid, const char *value) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int add_key_ids(X509 *x, const mk_mock_key_t *subject, const mk_mock_key_t *issuer) {
    uint8_t ski[20], aki[20];
    SHA1(subject->pub, sizeof subject->pub, ski);
    SHA1(issuer->pub, sizeof issuer->pub, aki);
    AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();
    ASN1_OCTET_STRING *sk = ASN1_OCTET_STRING_new();
    int ok = ak && sk && (ak->keyid = ASN1_OCTET_STRING_new()) && ASN1_OCTET_STRING_set(ak->keyid, aki, 20) &&
             ASN1_OCTET_STRING_set(sk, ski, 20) &&
             X509_add1_ext_i2d(x, NID_authority_key_identifier, ak, 0, X509V3_ADD_DEFAULT) == 1 &&
             X509_add1_ext_i2d(x, NID_subject_key_identifier, sk, 0, X509V3_ADD_DEFAULT) == 1;
    AUTHORITY_KEYID_free(ak);
    ASN1_OCTET_STRING_free(sk);
    return ok;
}

static X509_NAME *make_name(const char *cn) {
    X509_NAME *n = X509_NAME_new();
    if (n && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"libmosaik", -1, -1, 0) &&
        X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0))
        return n;
    X509_NAME_free(n);
    return NULL;
}

/* Replaces x's (randomised) signature by a deterministic one over its TBS, and returns a fresh copy
 * parsed from the final DER. */
static X509 *resign(X509 *x, const mk_mock_key_t *issuer) {
    unsigned char *tbs = NULL;
    int tl = i2d_re_X509_tbs(x, &tbs);
    uint8_t dg[32], der[80];
    size_t dl = 0;
    X509 *fresh = NULL;
    const ASN1_BIT_STRING *csig = NULL;
    X509_get0_signature(&csig, NULL, x);
    ASN1_BIT_STRING *sig = (ASN1_BIT_STRING *)(uintptr_t)csig;
    if (tl > 0 && SHA256(tbs, (size_t)tl, dg) && mk_mock_sign_der(issuer, dg, der, &dl) == MK_OK && sig &&
        ASN1_BIT_STRING_set(sig, der, (int)dl)) {
        sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
        sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
        unsigned char *out = NULL;
        int ol = i2d_X509(x, &out);
        const unsigned char *p = out;
        if (ol > 0) fresh = d2i_X509(NULL, &p, ol);
        OPENSSL_free(out);
    }
    OPENSSL_free(tbs);
    return fresh;
}

static X509 *make_cert(const uint8_t seed[32], const cert_spec_t *sp, const mk_mock_key_t *key, X509 *issuer_x,
                       const mk_mock_key_t *issuer_key, const mk_buf_t *sgx_ext) {
    X509 *x = X509_new(), *out = NULL;
    X509_NAME *name = make_name(sp->cn);
    uint8_t serial[16];
    mk_mock_derive(seed, sp->serial_label, serial, sizeof serial);
    serial[0] = (uint8_t)((serial[0] & 0x7F) | 0x40); /* positive, 16 bytes */
    BIGNUM *sbn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *sn = sbn ? BN_to_ASN1_INTEGER(sbn, NULL) : NULL;
    char bc[48];
    if (sp->ca) snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", sp->pathlen);
    else snprintf(bc, sizeof bc, "critical,CA:FALSE");
    int ok = x && name && sn && X509_set_version(x, X509_VERSION_3) && X509_set_serialNumber(x, sn) &&
             X509_set_subject_name(x, name) &&
             X509_set_issuer_name(x, issuer_x ? X509_get_subject_name(issuer_x) : name) &&
             ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20200101000000Z") &&
             ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20991231235959Z") && X509_set_pubkey(x, key->pkey) &&
             add_key_ids(x, key, issuer_key) &&
             add_ext_conf(x, NID_key_usage,
                          sp->ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation") &&
             add_ext_conf(x, NID_basic_constraints, bc);
    if (ok && sgx_ext) {
        ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext = NULL;
        ok = obj && os && ASN1_OCTET_STRING_set(os, sgx_ext->ptr, (int)sgx_ext->len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
    }
    if (ok && X509_sign(x, issuer_key->pkey, EVP_sha256()) > 0) out = resign(x, issuer_key);
    ASN1_INTEGER_free(sn);
    BN_free(sbn);
    X509_NAME_free(name);
    X509_free(x);
    return out;
}

char *mk_mock_pem(X509 *x) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p = NULL;
    if (b && PEM_write_bio_X509(b, x)) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0 && (out = malloc((size_t)n + 1))) {
            memcpy(out, p, (size_t)n);
            out[n] = 0;
        }
    }
    BIO_free(b);
    return out;
}

int mk_mock_certs_make(mk_tdx_mock_t *m, mk_error_t *e) {
    static const cert_spec_t ROOT = {"libmosaik TDX Mock Root CA", "libmosaik.tdx.mock.root-serial", true, 1};
    static const cert_spec_t CA = {"libmosaik Mock PCK Platform CA", "libmosaik.tdx.mock.ca-serial", true, 0};
    static const cert_spec_t LEAF = {"libmosaik Mock PCK Certificate", "libmosaik.tdx.mock.leaf-serial", false, 0};
    static const cert_spec_t TCB = {"libmosaik Mock TCB Signing", "libmosaik.tdx.mock.tcb-serial", false, 0};
    const uint8_t *seed = m->cfg.seed;
    mk_buf_t ext = MK_BUF_INIT;
    if (sgx_extension(seed, &ext) != MK_OK) return MK_ERR(e, MK_ENOMEM, "cannot encode the SGX extension");
    m->root_x = make_cert(seed, &ROOT, &m->root, NULL, &m->root, NULL);
    m->ca_x = m->root_x ? make_cert(seed, &CA, &m->ca, m->root_x, &m->root, NULL) : NULL;
    m->leaf_x = m->ca_x ? make_cert(seed, &LEAF, &m->leaf, m->ca_x, &m->ca, &ext) : NULL;
    m->tcb_x = m->root_x ? make_cert(seed, &TCB, &m->tcb, m->root_x, &m->root, NULL) : NULL;
    mk_buf_free(&ext);
    if (!m->root_x || !m->ca_x || !m->leaf_x || !m->tcb_x) return MK_ERR(e, MK_EIO, "cannot build the mock certificates");
    m->root_pem = mk_mock_pem(m->root_x);
    m->ca_pem = mk_mock_pem(m->ca_x);
    m->tcb_pem = mk_mock_pem(m->tcb_x);
    char *leaf = mk_mock_pem(m->leaf_x);
    if (m->root_pem && m->ca_pem && leaf) {
        size_t a = strlen(leaf), b = strlen(m->ca_pem), c = strlen(m->root_pem);
        if ((m->chain_pem = malloc(a + b + c + 1))) {
            memcpy(m->chain_pem, leaf, a);
            memcpy(m->chain_pem + a, m->ca_pem, b);
            memcpy(m->chain_pem + a + b, m->root_pem, c + 1);
        }
    }
    free(leaf);
    if (!m->root_pem || !m->ca_pem || !m->tcb_pem || !m->chain_pem) return MK_ERR(e, MK_ENOMEM, "out of memory");
    return MK_OK;
}
