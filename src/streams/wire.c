/* streams/wire.c — stream link messages (see wire.h). */
#include "streams/wire.h"

#include "core/codec.h"
#include "core/error.h"

#include <string.h>

#define MSG_MAX 256

static int finish(mk_enc_t *enc, mk_buf_t *out) {
    mk_buf_t tmp = MK_BUF_INIT;
    int rc = mk_enc_finish(enc, &tmp);
    if (rc == MK_OK) rc = mk_buf_append(out, tmp.ptr, tmp.len);
    mk_buf_free(&tmp);
    return rc == MK_OK ? MK_OK : MK_ENOMEM;
}

int mk_smsg_encode_subscribe(const mk_id_t *network, const mk_id_t *stream, uint32_t criteria, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, MSG_MAX);
    mk_enc_tag(&enc, MK_SMSG_SUBSCRIBE);
    mk_enc_id(&enc, network);
    mk_enc_id(&enc, stream);
    mk_enc_tag(&enc, criteria);
    return finish(&enc, out);
}

int mk_smsg_encode_accepted(const mk_id_t *network, const mk_id_t *stream, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, MSG_MAX);
    mk_enc_tag(&enc, MK_SMSG_ACCEPTED);
    mk_enc_id(&enc, network);
    mk_enc_id(&enc, stream);
    return finish(&enc, out);
}

int mk_smsg_encode_dropped(uint64_t count, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, MSG_MAX);
    mk_enc_tag(&enc, MK_SMSG_DROPPED);
    mk_enc_u64(&enc, count);
    return finish(&enc, out);
}

int mk_smsg_decode(const void *p, size_t n, mk_smsg_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    if (n == 0) return MK_ERR(e, MK_EPROTO, "stream message: empty frame");
    const uint8_t *b = p;
    /* a Datum is its tag byte and the raw rest: checked before the generic decoder */
    if (b[0] == MK_SMSG_DATUM) {
        out->kind = MK_SMSG_DATUM;
        out->datum = (mk_bytes_t){b + 1, n - 1};
        return MK_OK;
    }
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    uint32_t tag = mk_dec_tag(&d, MK_SMSG_TAGS);
    if (d.err == MK_OK && tag > MK_SMSG_DROPPED) mk_dec_fail(&d, "reserved message tag %u", tag);
    out->kind = (mk_smsg_kind_t)tag;
    switch (out->kind) {
    case MK_SMSG_SUBSCRIBE:
        mk_dec_id(&d, &out->network);
        mk_dec_id(&d, &out->stream);
        out->criteria = mk_dec_tag(&d, 1u << 16);
        if (d.err == MK_OK && out->criteria != MK_CRITERIA_TAG_ALL) mk_dec_fail(&d, "unknown criteria tag %u", out->criteria);
        break;
    case MK_SMSG_ACCEPTED:
        mk_dec_id(&d, &out->network);
        mk_dec_id(&d, &out->stream);
        break;
    case MK_SMSG_DROPPED:
        out->dropped = mk_dec_u64(&d);
        if (d.err == MK_OK && out->dropped == 0) mk_dec_fail(&d, "Dropped count of 0");
        break;
    default: break;
    }
    return mk_dec_finish_err(&d, e, "stream message");
}
