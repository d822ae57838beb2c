/* net/session.h — the sans-I/O link protocol state machine: Hello exchange, data-before-Hello and
 * double-Hello violations, Close handling and the handshake timeout. The I/O layer (link.c) feeds it
 * decoded frames and events and carries out the action it returns. Pure: no sockets, no clock. */
#ifndef MK_NET_SESSION_H
#define MK_NET_SESSION_H

#include "mosaik/network.h"

#define MK_LINK_VERSION 1u
#define MK_CLOSE_REASON_MAX 256

typedef enum {
    MK_SESS_HANDSHAKE = 0,  /* TLS is up; waiting for the peer's Hello */
    MK_SESS_OPEN,           /* both Hellos exchanged and checked */
    MK_SESS_CLOSED,         /* Close sent or received, or the transport ended */
} mk_sess_state_t;

typedef enum {
    MK_SESS_NONE = 0,       /* nothing to do */
    MK_SESS_DELIVER,        /* hand the data frame to the protocol */
    MK_SESS_OPENED,         /* the peer's Hello checked out: the link is verified */
    MK_SESS_SEND_CLOSE,     /* send Close(code, reason), then end the link */
    MK_SESS_ENDED,          /* the link ended (Close received or transport gone); nothing to send */
} mk_sess_action_kind_t;

typedef struct mk_sess_action {
    mk_sess_action_kind_t kind;
    uint32_t code;                       /* SEND_CLOSE / ENDED */
    bool remote;                         /* ENDED: the code came from the peer */
    char reason[MK_CLOSE_REASON_MAX + 1];/* SEND_CLOSE / ENDED */
    const char *what;                    /* violation kind for metrics: hello, control, network, ... */
} mk_sess_action_t;

typedef struct mk_link_session {
    mk_sess_state_t state;
    mk_network_id_t network_id;
    uint32_t local_max_frame;
    uint32_t peer_max_frame;             /* 0 until the peer's Hello */
    uint32_t version;                    /* negotiated */
    uint32_t close_code;                 /* once CLOSED */
    bool close_remote;
    char close_reason[MK_CLOSE_REASON_MAX + 1];
} mk_link_session_t;

/* Starts a session in HANDSHAKE for our network and receive limit. */
void mk_sess_init(mk_link_session_t *s, const mk_network_id_t *net, uint32_t local_max_frame);
/* A data frame arrived. DELIVER when open; SEND_CLOSE 400 before the Hello; NONE once closed. */
mk_sess_action_t mk_sess_on_data(mk_link_session_t *s);
/* The peer's Hello: OPENED; SEND_CLOSE 101 for another network, 400 for a second Hello or a bad one. */
mk_sess_action_t mk_sess_on_hello(mk_link_session_t *s, uint32_t version, const mk_network_id_t *net,
                                  uint32_t max_frame);
/* The peer's Close(code, reason): ENDED remote (reason copied, cut at 256 bytes). NONE once closed. */
mk_sess_action_t mk_sess_on_close(mk_link_session_t *s, uint32_t code, const char *reason, size_t len);
/* A malformed or oversize frame or control body: SEND_CLOSE 400 with the cause. */
mk_sess_action_t mk_sess_on_violation(mk_link_session_t *s, const char *what, const char *cause);
/* The handshake deadline passed: SEND_CLOSE 104 while in HANDSHAKE, else NONE. */
mk_sess_action_t mk_sess_on_handshake_timeout(mk_link_session_t *s);
/* The transport ended without a Close: ENDED 103 (local) with the cause, NONE if already closed. */
mk_sess_action_t mk_sess_on_transport_end(mk_link_session_t *s, const char *cause);
/* We close: SEND_CLOSE with our code, NONE if already closed. */
mk_sess_action_t mk_sess_local_close(mk_link_session_t *s, uint32_t code, const char *reason);
/* Largest data frame we may send now (the peer's limit once known, else ours). */
uint32_t mk_sess_send_limit(const mk_link_session_t *s);

#endif
