/* unit/tee/mock_check.h — helpers shared by the mock tests: little-endian readers, the offsets of a
 * quote made by the mock (spec 60 §5), and plain-OpenSSL signature checks independent of the library's
 * verifier. Header-only (static functions), included by test_mock*.c. */
#ifndef MKT_TEE_MOCK_CHECK_H
#define MKT_TEE_MOCK_CHECK_H

#include "mosaik/tdx.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

static inline unsigned rd16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static inline size_t rd32(const uint8_t *p) {
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

/* Offsets of one quote's parts. */
typedef struct mq {
    size_t body_off, body_len, s; /* s = |signed region| */
    const uint8_t *body, *sig, *ak, *qe, *qe_sig, *auth, *pem;
    size_t auth_len, pem_len, total;
} mq_t;

static inline mq_t mq_of(const uint8_t *q) {
    mq_t m = {0};
    m.body_off = rd16(q) == 5 ? 54 : 48;
    m.body_len = rd16(q) == 5 ? rd32(q + 50) : 584;
    m.s = m.body_off + m.body_len;
    m.body = q + m.body_off;
    const uint8_t *sd = q + m.s;
    m.sig = sd + 4;
    m.ak = sd + 68;
    const uint8_t *cd = sd + 138;
    m.qe = cd;
    m.qe_sig = cd + 384;
    m.auth_len = rd16(cd + 448);
    m.auth = cd + 450;
    m.pem_len = rd32(cd + 450 + m.auth_len + 2);
    m.pem = cd + 450 + m.auth_len + 6;
    m.total = m.s + 4 + rd32(sd);
    return m;
}

/* An EVP_PKEY from a raw P-256 point x‖y. */
static inline EVP_PKEY *pkey_from_xy(const uint8_t xy[64]) {
    uint8_t pub[65] = {4};
    memcpy(pub + 1, xy, 64);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub);
    OSSL_PARAM *prm = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    if (EVP_PKEY_fromdata_init(c) <= 0 || EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, prm) <= 0) k = NULL;
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(prm);
    OSSL_PARAM_BLD_free(b);
    return k;
}

/* Verifies a raw r‖s ECDSA-SHA256 signature over msg with key. */
static inline bool verify_rs(EVP_PKEY *key, const uint8_t *msg, size_t n, const uint8_t rs[64]) {
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char *der = NULL;
    int dl = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = dl > 0 && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(c, der, (size_t)dl, msg, n) == 1;
    EVP_MD_CTX_free(c);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok;
}

/* The certificates of a PEM text (up to cap); returns the count. */
static inline size_t certs_of(const char *pem, size_t len, X509 **out, size_t cap) {
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    size_t n = 0;
    X509 *x;
    while (n < cap && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) out[n++] = x;
    BIO_free(b);
    return n;
}

#endif
