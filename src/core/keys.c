/* core/keys.c — Ed25519 node identities through OpenSSL 3: secret keys (random, from a string, from hex),
 * their PeerIds (raw public keys), wiping, strict PeerId parsing, signing and verification. Every EVP
 * object is freed on every path, and OpenSSL's per-thread error queue is left empty. */
#include "mosaik/id.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define ED25519_SIG_LEN 64

int mk_secret_key_generate(mk_secret_key_t *out) {
    if (!out) return MK_EINVAL;
    if (RAND_bytes(out->seed, (int)sizeof out->seed) != 1) {
        ERR_clear_error();
        OPENSSL_cleanse(out, sizeof *out);
        return MK_EIO;
    }
    return MK_OK;
}

void mk_secret_key_from_str(const char *s, mk_secret_key_t *out) {
    mk_id_t id = mk_id_from_str(s);
    memcpy(out->seed, id.b, sizeof out->seed);
    OPENSSL_cleanse(&id, sizeof id);
}

int mk_secret_key_parse_hex(const char *s, mk_secret_key_t *out) {
    mk_id_t id;
    if (!out || mk_id_parse_hex(s, &id) != MK_OK) return MK_EINVAL;
    memcpy(out->seed, id.b, sizeof out->seed);
    OPENSSL_cleanse(&id, sizeof id);
    return MK_OK;
}

void mk_secret_key_wipe(mk_secret_key_t *sk) {
    if (sk) OPENSSL_cleanse(sk, sizeof *sk);
}

int mk_peer_id_parse(const char *hex64, mk_peer_id_t *out) { return mk_id_parse_hex(hex64, out); }

/* The OpenSSL key object of a seed; NULL on an OpenSSL failure (allocation). Caller frees. */
static EVP_PKEY *private_key_of(const mk_secret_key_t *sk) {
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk->seed, sizeof sk->seed);
}

mk_peer_id_t mk_secret_key_public(const mk_secret_key_t *sk) {
    mk_peer_id_t pub = MK_ID_ZERO;
    EVP_PKEY *key = private_key_of(sk);
    size_t len = sizeof pub.b;
    /* Any 32-byte seed is a valid key: only an allocation failure lands here, reported as the zero id. */
    if (!key || EVP_PKEY_get_raw_public_key(key, pub.b, &len) != 1 || len != sizeof pub.b) {
        pub = MK_ID_ZERO;
        ERR_clear_error();
    }
    EVP_PKEY_free(key);
    return pub;
}

int mk_ed25519_sign(const mk_secret_key_t *sk, const void *msg, size_t n, uint8_t sig[64]) {
    static const uint8_t empty = 0;
    int rc = MK_EIO;
    size_t sig_len = ED25519_SIG_LEN;
    EVP_PKEY *key = private_key_of(sk);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (key && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, &sig_len, msg ? msg : &empty, n) == 1 && sig_len == ED25519_SIG_LEN)
        rc = MK_OK;
    if (rc != MK_OK) {
        memset(sig, 0, ED25519_SIG_LEN);
        ERR_clear_error();
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

int mk_ed25519_verify(const mk_peer_id_t *peer, const void *msg, size_t n, const uint8_t sig[64]) {
    static const uint8_t empty = 0;
    if (!peer || !sig) return MK_EBADSIG;
    int rc = MK_EBADSIG;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, peer->b, sizeof peer->b);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, msg ? msg : &empty, n) == 1)
        rc = MK_OK;
    ERR_clear_error();  /* a failed verification queues errors; the status code says everything */
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}
