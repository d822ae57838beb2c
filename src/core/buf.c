/* core/buf.c — the owned, growable byte buffer mk_buf_t. */
#include "mosaik/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void mk_buf_free(mk_buf_t *b) {
    if (!b) return;
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

int mk_buf_reserve(mk_buf_t *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) return MK_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap) return MK_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    void *p = realloc(b->ptr, cap);
    if (!p) return MK_ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return MK_OK;
}

int mk_buf_append(mk_buf_t *b, const void *p, size_t n) {
    if (n == 0) return MK_OK;
    int rc = mk_buf_reserve(b, n);
    if (rc) return rc;
    memcpy((uint8_t *)b->ptr + b->len, p, n);
    b->len += n;
    return MK_OK;
}
