/* tee/tdx/mock_int.h — internal state of the TDX mock (spec 60 §8) shared by mock.c (quotes),
 * mock_keys.c (seed-derived keys, deterministic ECDSA), mock_certs.c (the test PCK chain) and
 * mock_collateral.c (signed TCB info, QE identity and CRLs). */
#ifndef MK_TEE_TDX_MOCK_INT_H
#define MK_TEE_TDX_MOCK_INT_H

#include "mosaik/tdx.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A P-256 key derived from the seed: priv = D(seed, label) reduced to [1, n−1]. */
typedef struct mk_mock_key {
    uint8_t priv[32];
    uint8_t pub[65]; /* SEC1 uncompressed */
    EVP_PKEY *pkey;
} mk_mock_key_t;

/* Fixed platform values the leaf certificate, the QE report and the collateral agree on. */
#define MK_MOCK_PCESVN 11
#define MK_MOCK_QE_ISVPRODID 2
#define MK_MOCK_QE_ISVSVN 8
extern const uint8_t mk_mock_cpusvn[16], mk_mock_fmspc[6], mk_mock_pceid[2];

struct mk_tdx_mock {
    mk_tdx_mock_config_t cfg; /* defaults applied */
    mk_mock_key_t root, ca, leaf, tcb, ak;
    X509 *root_x, *ca_x, *leaf_x, *tcb_x;
    char *root_pem, *ca_pem, *tcb_pem, *chain_pem; /* chain = leaf, intermediate, root */
    uint8_t qe_report[384], qe_sig[64], qe_auth[32];
    uint8_t qe_mrsigner[32], user_data[20], mrseam[48];
};

/* D(seed, label) as bytes: n ≤ 32 from one derivation, longer outputs chain D(prev, label). */
void mk_mock_derive(const uint8_t seed[32], const char *label, uint8_t *out, size_t n);
int mk_mock_key_derive(const uint8_t seed[32], const char *label, mk_mock_key_t *k, mk_error_t *e);
void mk_mock_key_clear(mk_mock_key_t *k);
/* Deterministic ECDSA P-256 over a SHA-256 digest (nonce = HMAC-SHA256(priv, digest ‖ counter) reduced
 * to [1, n−1], RFC 6979 in spirit): raw r‖s, and the DER form for certificates and CRLs. */
int mk_mock_sign(const mk_mock_key_t *k, const uint8_t digest[32], uint8_t rs[64]);
int mk_mock_sign_der(const mk_mock_key_t *k, const uint8_t digest[32], uint8_t der[80], size_t *der_len);

/* Builds the four certificates and their PEM forms into m (keys already derived). */
int mk_mock_certs_make(mk_tdx_mock_t *m, mk_error_t *e);
/* PEM of one certificate (malloc'ed string) or NULL. */
char *mk_mock_pem(X509 *x);

#endif
