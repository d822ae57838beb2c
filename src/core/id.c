/* core/id.c — 32-byte identifiers: the string rule (exactly 64 hex digits are decoded, anything else is
 * BLAKE3-hashed), hashing and derivation, random ids, strict hex parsing, comparison and the full and
 * short display forms. Pure functions apart from mk_id_random (OpenSSL's thread-safe CSPRNG). */
#include "mosaik/id.h"

#include "core/blake3.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Value of one hex digit (either case), or -1. Branch-free on the character, because the same decoder
 * reads secret-key seeds (mk_secret_key_parse_hex). */
static int hex_nibble(unsigned char c) {
    unsigned digit = (unsigned)c - '0';             /* < 10 only for '0'..'9' (wraps below '0') */
    unsigned letter = ((unsigned)c | 0x20u) - 'a';  /* < 6 only for 'a'..'f' and 'A'..'F' */
    unsigned is_digit = (unsigned)(digit < 10), is_letter = (unsigned)(letter < 6);
    unsigned value = (-is_digit & digit) | (-is_letter & (letter + 10));
    unsigned invalid = (is_digit | is_letter) - 1u;  /* all ones when neither */
    return (int)(value | invalid);
}

/* Decodes exactly 64 hex digits into *out; false (out untouched) for any other length or character. */
static bool decode_hex64(const char *s, size_t len, mk_id_t *out) {
    if (len != MK_ID_HEX_LEN) return false;
    mk_id_t id;
    int bad = 0;
    for (size_t i = 0; i < sizeof id.b; i++) {
        int hi = hex_nibble((unsigned char)s[2 * i]), lo = hex_nibble((unsigned char)s[2 * i + 1]);
        bad |= hi | lo;  /* negative once any digit is invalid */
        id.b[i] = (uint8_t)(((unsigned)hi << 4 | (unsigned)lo) & 0xFFu);
    }
    if (bad >= 0) *out = id;
    OPENSSL_cleanse(&id, sizeof id);  /* the digits may be a secret-key seed */
    return bad >= 0;
}

mk_id_t mk_id_hash(const void *p, size_t n) {
    mk_id_t id;
    mk_blake3(p, n, id.b);
    return id;
}

mk_id_t mk_id_from_strn(const char *s, size_t len) {
    mk_id_t id;
    if (decode_hex64(s, len, &id)) return id;
    return mk_id_hash(s, len);
}

mk_id_t mk_id_from_str(const char *s) { return mk_id_from_strn(s, strlen(s)); }

mk_id_t mk_id_from_parts(const mk_bytes_t *parts, size_t n) {
    mk_blake3_t h;
    mk_id_t id;
    mk_blake3_init(&h);
    for (size_t i = 0; i < n; i++) mk_blake3_update(&h, parts[i].ptr, parts[i].len);
    mk_blake3_finalize(&h, id.b);
    return id;
}

mk_id_t mk_id_derive(const mk_id_t *id, const void *info, size_t n) {
    const mk_bytes_t parts[2] = {{id->b, sizeof id->b}, {info, n}};
    return mk_id_from_parts(parts, 2);
}

mk_id_t mk_id_derive_str(const mk_id_t *id, const char *info) { return mk_id_derive(id, info, strlen(info)); }

mk_id_t mk_id_hashed(const mk_id_t *id) { return mk_id_hash(id->b, sizeof id->b); }

mk_id_t mk_id_random(void) {
    mk_id_t id;
    if (RAND_bytes(id.b, (int)sizeof id.b) != 1) {
        /* No safe fallback exists for identifiers that must be unpredictable and unique. */
        fprintf(stderr, "mosaik: fatal: mk_id_random: the OpenSSL CSPRNG (RAND_bytes) failed\n");
        abort();
    }
    return id;
}

mk_id_t mk_id_from_u64(uint64_t v) {
    mk_id_t id = MK_ID_ZERO;
    for (unsigned i = 0; i < 8; i++) id.b[24 + i] = (uint8_t)(v >> (8 * i));
    return id;
}

int mk_id_parse_hex(const char *s, mk_id_t *out) {
    if (!s || !out) return MK_EINVAL;
    /* strnlen: a 65th character already makes the input invalid, no need to scan further. */
    return decode_hex64(s, strnlen(s, MK_ID_HEX_LEN + 1), out) ? MK_OK : MK_EINVAL;
}

bool mk_id_eq(const mk_id_t *a, const mk_id_t *b) { return memcmp(a->b, b->b, sizeof a->b) == 0; }

int mk_id_cmp(const mk_id_t *a, const mk_id_t *b) { return memcmp(a->b, b->b, sizeof a->b); }

bool mk_id_is_zero(const mk_id_t *id) {
    uint8_t acc = 0;
    for (size_t i = 0; i < sizeof id->b; i++) acc |= id->b[i];
    return acc == 0;
}

static void bytes_to_hex(const uint8_t *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

char *mk_id_hex(const mk_id_t *id, char out[MK_ID_HEX_LEN + 1]) {
    bytes_to_hex(id->b, sizeof id->b, out);
    return out;
}

char *mk_id_short(const mk_id_t *id, char out[MK_ID_SHORT_LEN + 1]) {
    bytes_to_hex(id->b, MK_ID_SHORT_LEN / 2, out);
    return out;
}
