/* net/tls.h — the network's TLS 1.3 context: an in-memory self-signed Ed25519 certificate for the node's
 * key, peer-certificate checks (exactly one Ed25519 certificate with a valid self-signature, its key
 * compared with the PeerId dialed) and ALPN selection. */
#ifndef MK_NET_TLS_H
#define MK_NET_TLS_H

#include "mosaik/network.h"

#include <openssl/ssl.h>

/* Per-SSL verification state, attached with mk_tls_attach. */
typedef struct mk_tls_peer {
    bool dialer;
    mk_peer_id_t expected;   /* dialer: the PeerId dialed */
    mk_peer_id_t self;       /* our own PeerId (acceptor refuses it) */
    mk_peer_id_t got;        /* the key the peer presented */
    bool have_got;
    int failure;             /* MK_OK, or MK_EIDENTITY with `why` */
    char why[160];
} mk_tls_peer_t;

/* Builds the SSL_CTX for a node key. NULL + e on failure (MK_EIO with the OpenSSL error). */
SSL_CTX *mk_tls_ctx_new(const mk_secret_key_t *sk, mk_error_t *e);
/* Creates an SSL for one connection bound to `peer` (which must outlive the SSL). Dialers pass the
 * ALPN to offer. NULL on failure. */
SSL *mk_tls_new_ssl(SSL_CTX *ctx, mk_tls_peer_t *peer, const char *alpn_or_null);
/* The ALPN negotiated on ssl into buf (NUL-terminated); false when none. */
bool mk_tls_selected_alpn(SSL *ssl, char buf[MK_ALPN_MAX + 1]);
/* Builds a self-signed certificate for sk (exposed for tests). */
X509 *mk_tls_make_cert(EVP_PKEY *key, const mk_peer_id_t *pub);
/* Text of the most recent OpenSSL error on this thread ("" if none); clears the queue. */
unsigned long mk_tls_last_error(char *buf, size_t cap);

#endif
