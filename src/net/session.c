/* net/session.c — the sans-I/O link protocol state machine (see session.h). */
#include "net/session.h"

#include <stdio.h>
#include <string.h>

void mk_sess_init(mk_link_session_t *s, const mk_network_id_t *net, uint32_t local_max_frame) {
    memset(s, 0, sizeof *s);
    s->state = MK_SESS_HANDSHAKE;
    s->network_id = *net;
    s->local_max_frame = local_max_frame;
}

static mk_sess_action_t act(mk_sess_action_kind_t kind) {
    mk_sess_action_t a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    return a;
}

static mk_sess_action_t end_with(mk_link_session_t *s, mk_sess_action_kind_t kind, uint32_t code, bool remote,
                                 const char *reason, size_t len, const char *what) {
    mk_sess_action_t a = act(kind);
    if (len > MK_CLOSE_REASON_MAX) len = MK_CLOSE_REASON_MAX;
    s->state = MK_SESS_CLOSED;
    s->close_code = code;
    s->close_remote = remote;
    if (reason && len) memcpy(s->close_reason, reason, len);
    s->close_reason[len] = 0;
    a.code = code;
    a.remote = remote;
    memcpy(a.reason, s->close_reason, len + 1);
    a.what = what;
    return a;
}

static mk_sess_action_t send_close(mk_link_session_t *s, uint32_t code, const char *reason, const char *what) {
    return end_with(s, MK_SESS_SEND_CLOSE, code, false, reason, reason ? strlen(reason) : 0, what);
}

mk_sess_action_t mk_sess_on_data(mk_link_session_t *s) {
    switch (s->state) {
    case MK_SESS_OPEN: return act(MK_SESS_DELIVER);
    case MK_SESS_HANDSHAKE: return send_close(s, MK_CLOSE_PROTOCOL_VIOLATION, "data frame before Hello", "hello");
    case MK_SESS_CLOSED: break;
    }
    return act(MK_SESS_NONE);
}

mk_sess_action_t mk_sess_on_hello(mk_link_session_t *s, uint32_t version, const mk_network_id_t *net,
                                  uint32_t max_frame) {
    if (s->state == MK_SESS_CLOSED) return act(MK_SESS_NONE);
    if (s->state == MK_SESS_OPEN) return send_close(s, MK_CLOSE_PROTOCOL_VIOLATION, "second Hello", "hello");
    if (version < 1) return send_close(s, MK_CLOSE_PROTOCOL_VIOLATION, "unsupported Hello version 0", "hello");
    if (max_frame == 0) return send_close(s, MK_CLOSE_PROTOCOL_VIOLATION, "Hello announces max_frame 0", "hello");
    if (memcmp(net->b, s->network_id.b, 32) != 0) {
        char theirs[MK_ID_SHORT_LEN + 1], ours[MK_ID_SHORT_LEN + 1], why[96];
        snprintf(why, sizeof why, "peer is on network %s, we are on %s", mk_id_short(net, theirs),
                 mk_id_short(&s->network_id, ours));
        return send_close(s, MK_CLOSE_DIFFERENT_NETWORK, why, "network");
    }
    s->version = version < MK_LINK_VERSION ? version : MK_LINK_VERSION;
    s->peer_max_frame = max_frame;
    s->state = MK_SESS_OPEN;
    return act(MK_SESS_OPENED);
}

mk_sess_action_t mk_sess_on_close(mk_link_session_t *s, uint32_t code, const char *reason, size_t len) {
    if (s->state == MK_SESS_CLOSED) return act(MK_SESS_NONE);
    return end_with(s, MK_SESS_ENDED, code, true, reason, len, NULL);
}

mk_sess_action_t mk_sess_on_violation(mk_link_session_t *s, const char *what, const char *cause) {
    if (s->state == MK_SESS_CLOSED) return act(MK_SESS_NONE);
    return send_close(s, MK_CLOSE_PROTOCOL_VIOLATION, cause, what);
}

mk_sess_action_t mk_sess_on_handshake_timeout(mk_link_session_t *s) {
    if (s->state != MK_SESS_HANDSHAKE) return act(MK_SESS_NONE);
    return send_close(s, MK_CLOSE_HANDSHAKE_TIMEOUT, "no Hello within the handshake timeout", "hello");
}

mk_sess_action_t mk_sess_on_transport_end(mk_link_session_t *s, const char *cause) {
    if (s->state == MK_SESS_CLOSED) return act(MK_SESS_NONE);
    return end_with(s, MK_SESS_ENDED, MK_CLOSE_UNEXPECTED, false, cause, cause ? strlen(cause) : 0, NULL);
}

mk_sess_action_t mk_sess_local_close(mk_link_session_t *s, uint32_t code, const char *reason) {
    if (s->state == MK_SESS_CLOSED) return act(MK_SESS_NONE);
    return send_close(s, code, reason, NULL);
}

uint32_t mk_sess_send_limit(const mk_link_session_t *s) {
    return s->peer_max_frame ? s->peer_max_frame : s->local_max_frame;
}
