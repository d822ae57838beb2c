/* core/id.c — 32-byte identifiers: the string rule (64 hex decoded, else BLAKE3), derivations,
 * strict hex parsing and the full and short display forms. */
#include "mosaik/id.h"

#include "core/blake3.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool decode_hex64(const char *s, size_t len, mk_id_t *out) {
    if (len != MK_ID_HEX_LEN) return false;
    mk_id_t id;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        id.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = id;
    return true;
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
    mk_bytes_t parts[2] = {{id->b, 32}, {info, n}};
    return mk_id_from_parts(parts, 2);
}

mk_id_t mk_id_derive_str(const mk_id_t *id, const char *info) { return mk_id_derive(id, info, strlen(info)); }

mk_id_t mk_id_hashed(const mk_id_t *id) { return mk_id_hash(id->b, 32); }

mk_id_t mk_id_random(void) {
    mk_id_t id;
    if (RAND_bytes(id.b, sizeof id.b) != 1) {
        fprintf(stderr, "mosaik: fatal: the OpenSSL CSPRNG failed\n");
        abort();
    }
    return id;
}

mk_id_t mk_id_from_u64(uint64_t v) {
    mk_id_t id = MK_ID_ZERO;
    for (int i = 0; i < 8; i++) id.b[24 + i] = (uint8_t)(v >> (8 * i));
    return id;
}

int mk_id_parse_hex(const char *s, mk_id_t *out) {
    if (!s || !out) return MK_EINVAL;
    return decode_hex64(s, strlen(s), out) ? MK_OK : MK_EINVAL;
}

int mk_peer_id_parse(const char *hex64, mk_peer_id_t *out) { return mk_id_parse_hex(hex64, out); }

bool mk_id_eq(const mk_id_t *a, const mk_id_t *b) { return memcmp(a->b, b->b, 32) == 0; }
int mk_id_cmp(const mk_id_t *a, const mk_id_t *b) { return memcmp(a->b, b->b, 32); }

bool mk_id_is_zero(const mk_id_t *id) {
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= id->b[i];
    return acc == 0;
}

static void to_hex(const uint8_t *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

char *mk_id_hex(const mk_id_t *id, char out[MK_ID_HEX_LEN + 1]) {
    to_hex(id->b, 32, out);
    return out;
}

char *mk_id_short(const mk_id_t *id, char out[MK_ID_SHORT_LEN + 1]) {
    to_hex(id->b, 5, out);
    return out;
}
