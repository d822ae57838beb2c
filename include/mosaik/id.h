/* mosaik/id.h — 32-byte identifiers (BLAKE3 digests) and Ed25519 node identities.
 * All functions are pure or use only thread-safe OpenSSL calls: callable from any thread. */
#ifndef MOSAIK_ID_H
#define MOSAIK_ID_H

#include "mosaik/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A 32-byte identifier, ordered bytewise (memcmp). */
typedef struct mk_id { uint8_t b[32]; } mk_id_t;
typedef mk_id_t mk_unique_id_t, mk_network_id_t, mk_tag_t, mk_stream_id_t, mk_group_id_t, mk_store_id_t;
/* A PeerId is the node's raw Ed25519 public key, never a hash. */
typedef mk_id_t mk_peer_id_t;
/* An Ed25519 private key (the RFC 8032 32-byte seed). Wipe with mk_secret_key_wipe. */
typedef struct mk_secret_key { uint8_t seed[32]; } mk_secret_key_t;

#define MK_ID_HEX_LEN 64
#define MK_ID_SHORT_LEN 10
#define MK_ID_ZERO ((mk_id_t){{0}})

/* String rule: exactly 64 hex digits (either case) are decoded; anything else is BLAKE3-hashed over
 * its exact bytes. s must not be NULL. */
mk_id_t mk_id_from_str(const char *s);
/* Same rule over exactly len bytes (embedded NULs are hashed). */
mk_id_t mk_id_from_strn(const char *s, size_t len);
/* BLAKE3 of the bytes, always (never decodes hex). */
mk_id_t mk_id_hash(const void *p, size_t n);
/* BLAKE3 of the concatenation p0 ‖ p1 ‖ … */
mk_id_t mk_id_from_parts(const mk_bytes_t *parts, size_t n);
/* BLAKE3(id ‖ info): child identifiers. */
mk_id_t mk_id_derive(const mk_id_t *id, const void *info, size_t n);
/* BLAKE3(id ‖ info string without its terminator). */
mk_id_t mk_id_derive_str(const mk_id_t *id, const char *info);
/* BLAKE3(id). */
mk_id_t mk_id_hashed(const mk_id_t *id);
/* 32 random bytes from OpenSSL's CSPRNG; aborts the process if the CSPRNG fails. */
mk_id_t mk_id_random(void);
/* Zeros, then bytes 24..31 = v little-endian. */
mk_id_t mk_id_from_u64(uint64_t v);
/* Strict: exactly 64 hex digits, else MK_EINVAL; never hashes. */
int mk_id_parse_hex(const char *s, mk_id_t *out);
bool mk_id_eq(const mk_id_t *a, const mk_id_t *b);
/* memcmp order: <0, 0, >0. */
int mk_id_cmp(const mk_id_t *a, const mk_id_t *b);
bool mk_id_is_zero(const mk_id_t *id);
/* Full form: 64 lowercase hex digits and a NUL into out; returns out. */
char *mk_id_hex(const mk_id_t *id, char out[MK_ID_HEX_LEN + 1]);
/* Short form: first 5 bytes as 10 lowercase hex digits and a NUL; returns out. */
char *mk_id_short(const mk_id_t *id, char out[MK_ID_SHORT_LEN + 1]);

/* Fresh random key. MK_EIO if the CSPRNG fails. */
int mk_secret_key_generate(mk_secret_key_t *out);
/* Deterministic key: seed = mk_id_from_str(s) (64 hex digits are used as the seed itself). */
void mk_secret_key_from_str(const char *s, mk_secret_key_t *out);
/* Strict: exactly 64 hex digits → seed, else MK_EINVAL. */
int mk_secret_key_parse_hex(const char *s, mk_secret_key_t *out);
/* The PeerId (Ed25519 public key) of a secret key. */
mk_peer_id_t mk_secret_key_public(const mk_secret_key_t *sk);
/* Overwrites the key with zeros in a way the compiler cannot elide. */
void mk_secret_key_wipe(mk_secret_key_t *sk);
/* Strict hex parse of a PeerId (alias of mk_id_parse_hex). */
int mk_peer_id_parse(const char *hex64, mk_peer_id_t *out);

/* Ed25519 signature over msg; 64 bytes into sig. MK_EIO on an OpenSSL failure. */
int mk_ed25519_sign(const mk_secret_key_t *sk, const void *msg, size_t n, uint8_t sig[64]);
/* MK_OK if sig is a valid signature of msg by peer, MK_EBADSIG otherwise (also for a malformed key). */
int mk_ed25519_verify(const mk_peer_id_t *peer, const void *msg, size_t n, const uint8_t sig[64]);

#ifdef __cplusplus
}
#endif
#endif
