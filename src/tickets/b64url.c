/* tickets/b64url.c — strict base64url (see b64url.h). */
#include "tickets/b64url.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

size_t mk_b64url_decoded_len(size_t n) { return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) + 1; }

bool mk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t *out_len) {
    if (n % 4 == 1) return false;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value_of((unsigned char)in[i]);
        if (v < 0) return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits && (acc & ((1u << bits) - 1))) return false;  /* unused trailing bits must be zero */
    *out_len = k;
    return true;
}

int mk_b64url_encode(const uint8_t *p, size_t n, mk_buf_t *b) {
    if (mk_buf_reserve(b, n / 3 * 4 + 4) != MK_OK) return MK_ENOMEM;
    char *o = (char *)b->ptr + b->len;
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[k++] = ALPHABET[v >> 18];
        o[k++] = ALPHABET[(v >> 12) & 63];
        o[k++] = ALPHABET[(v >> 6) & 63];
        o[k++] = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[k++] = ALPHABET[v >> 18];
        o[k++] = ALPHABET[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[k++] = ALPHABET[v >> 18];
        o[k++] = ALPHABET[(v >> 12) & 63];
        o[k++] = ALPHABET[(v >> 6) & 63];
    }
    b->len += k;
    return MK_OK;
}
