/* core/keys.c — Ed25519 node identities through OpenSSL: key generation, deterministic keys from
 * strings, public keys (PeerIds), signing and verification. */
#include "mosaik/id.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int mk_secret_key_generate(mk_secret_key_t *out) {
    return RAND_bytes(out->seed, sizeof out->seed) == 1 ? MK_OK : MK_EIO;
}

void mk_secret_key_from_str(const char *s, mk_secret_key_t *out) {
    mk_id_t id = mk_id_from_str(s);
    memcpy(out->seed, id.b, 32);
    OPENSSL_cleanse(&id, sizeof id);
}

int mk_secret_key_parse_hex(const char *s, mk_secret_key_t *out) {
    mk_id_t id;
    if (mk_id_parse_hex(s, &id) != MK_OK) return MK_EINVAL;
    memcpy(out->seed, id.b, 32);
    OPENSSL_cleanse(&id, sizeof id);
    return MK_OK;
}

mk_peer_id_t mk_secret_key_public(const mk_secret_key_t *sk) {
    mk_peer_id_t pub = MK_ID_ZERO;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk->seed, sizeof sk->seed);
    size_t len = sizeof pub.b;
    if (!k || EVP_PKEY_get_raw_public_key(k, pub.b, &len) != 1) ERR_clear_error();
    EVP_PKEY_free(k);
    return pub;
}

void mk_secret_key_wipe(mk_secret_key_t *sk) { OPENSSL_cleanse(sk, sizeof *sk); }

int mk_ed25519_sign(const mk_secret_key_t *sk, const void *msg, size_t n, uint8_t sig[64]) {
    int rc = MK_EIO;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk->seed, sizeof sk->seed);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = 64;
    if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, msg, n) == 1 && siglen == 64)
        rc = MK_OK;
    if (rc) ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rc;
}

int mk_ed25519_verify(const mk_peer_id_t *peer, const void *msg, size_t n, const uint8_t sig[64]) {
    int rc = MK_EBADSIG;
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, peer->b, sizeof peer->b);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestVerify(ctx, sig, 64, msg, n) == 1)
        rc = MK_OK;
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rc;
}
