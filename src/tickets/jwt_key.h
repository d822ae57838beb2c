/* tickets/jwt_key.h — JWT keys with OpenSSL 3 (spec 60 §3.1): parsing every key form into one
 * normalised key (EC points compressed, secrets copied and wiped on free), fingerprints, and the
 * signature primitives (HMAC compared in constant time, ECDSA as raw fixed-width r‖s, pure Ed25519).
 * Keys are immutable after parsing and may be used from any thread. */
#ifndef MK_TICKETS_JWT_KEY_H
#define MK_TICKETS_JWT_KEY_H

#include "mosaik/tickets.h"

#include <openssl/evp.h>

#define MK_JWT_HS_MAX_SECRET 1024
#define MK_JWT_MAX_SIG 132

typedef struct mk_jwt_parsed_key {
    mk_jwt_alg_t alg;
    EVP_PKEY *pkey;          /* EC and Ed25519 (public, or private for signers) */
    uint8_t *secret;         /* HS: the secret (wiped on free) */
    size_t secret_len;
    uint8_t pub[67];         /* EC: SEC1 compressed point; Ed25519: 32 bytes */
    size_t pub_len;
    mk_id_t fingerprint;     /* D(H(label), key bytes) */
} mk_jwt_parsed_key_t;

/* Per-algorithm facts. */
typedef struct mk_jwt_alg_info {
    const char *name;        /* "ES256" */
    const char *label;       /* fingerprint label "es256" */
    const char *group;       /* OpenSSL group name for EC, NULL otherwise */
    size_t sig_len;          /* raw signature / tag length */
    size_t field_len;        /* EC: scalar/coordinate size; HS: the minimum secret length */
    const EVP_MD *(*md)(void);
} mk_jwt_alg_info_t;
const mk_jwt_alg_info_t *mk_jwt_alg_info(mk_jwt_alg_t alg);  /* NULL outside the enum */
/* The algorithm named exactly `name` (len bytes; "Ed25519" is EdDSA), or MK_JWT_END. */
mk_jwt_alg_t mk_jwt_alg_from_name(const char *name, size_t len);

/* A verifying key (validators): MK_OK, or MK_EINVAL naming what is wrong. */
int mk_jwt_key_parse_public(const mk_jwt_key_t *in, mk_jwt_parsed_key_t *out, mk_error_t *e);
/* A signing key (signers). */
int mk_jwt_key_parse_private(const mk_jwt_key_t *in, mk_jwt_parsed_key_t *out, mk_error_t *e);
/* A fresh random signing key of alg. */
int mk_jwt_key_generate(mk_jwt_alg_t alg, mk_jwt_parsed_key_t *out, mk_error_t *e);
void mk_jwt_key_free(mk_jwt_parsed_key_t *k);

/* True when sig is a valid signature of msg under k (k->alg fixes the scheme and sizes). */
bool mk_jwt_key_verify(const mk_jwt_parsed_key_t *k, const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len);
/* Signs msg into sig (MK_JWT_MAX_SIG bytes) and sets *sig_len. MK_OK or MK_EIO. */
int mk_jwt_key_sign(const mk_jwt_parsed_key_t *k, const uint8_t *msg, size_t n, uint8_t *sig, size_t *sig_len,
                    mk_error_t *e);

/* The signer's key (jwt_build.c). */
const mk_jwt_parsed_key_t *mk_jwt_signer_key(const mk_jwt_signer_t *s);

#endif
