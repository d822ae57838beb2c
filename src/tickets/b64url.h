/* tickets/b64url.h — base64url without padding (RFC 4648 §5), strict: decoding refuses '=', any byte
 * outside the alphabet, a length ≡ 1 mod 4 and non-zero unused trailing bits, so every input has at
 * most one decoding and every decoding one encoding. Pure; any thread. */
#ifndef MK_TICKETS_B64URL_H
#define MK_TICKETS_B64URL_H

#include "mosaik/core.h"

#include <stdbool.h>

/* Decoded size of n input characters (an upper bound when n is invalid). */
size_t mk_b64url_decoded_len(size_t n);
/* Decodes in[0..n) into out (≥ mk_b64url_decoded_len(n) bytes); false when not strict base64url. */
bool mk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);
/* Appends the encoding of p[0..n) to b (no NUL). MK_OK or MK_ENOMEM. */
int mk_b64url_encode(const uint8_t *p, size_t n, mk_buf_t *b);

#endif
