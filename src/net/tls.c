/* net/tls.c — TLS 1.3 context with self-signed Ed25519 certificates and identity checks (see tls.h). */
#include "net/tls.h"

#include "core/error.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int peer_index = -1;
static pthread_once_t peer_index_once = PTHREAD_ONCE_INIT;

static void make_peer_index(void) { peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

unsigned long mk_tls_last_error(char *buf, size_t cap) {
    unsigned long code = ERR_peek_last_error();
    if (buf && cap) {
        buf[0] = 0;
        if (code) ERR_error_string_n(code, buf, cap);
    }
    ERR_clear_error();
    return code;
}

X509 *mk_tls_make_cert(EVP_PKEY *key, const mk_peer_id_t *pub) {
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    X509_NAME *name = NULL;
    uint8_t sbytes[16];
    char hex[MK_ID_HEX_LEN + 1];
    if (!x || RAND_bytes(sbytes, sizeof sbytes) != 1) goto fail;
    sbytes[0] &= 0x7f;  /* positive */
    sbytes[0] |= 0x40;  /* exactly 16 significant bytes */
    bn = BN_bin2bn(sbytes, sizeof sbytes, NULL);
    serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (!serial || !X509_set_version(x, 2) || !X509_set_serialNumber(x, serial)) goto fail;
    name = X509_NAME_new();
    mk_id_hex(pub, hex);
    if (!name || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hex, -1, -1, 0))
        goto fail;
    if (!X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name)) goto fail;
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600)) goto fail;
    if (!ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z")) goto fail;
    if (!X509_set_pubkey(x, key) || X509_sign(x, key, NULL) <= 0) goto fail;
    X509_NAME_free(name);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return x;
fail:
    X509_NAME_free(name);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    return NULL;
}

__attribute__((format(printf, 2, 3)))
static void fail_identity(mk_tls_peer_t *p, const char *fmt, ...) {
    if (p->failure) return;
    p->failure = MK_EIDENTITY;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
}

/* Checks the peer's single self-signed Ed25519 certificate and its key. Chain errors of a self-signed
 * certificate (unknown issuer, dates) are overridden: identity comes from the key, not from a CA. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *store) {
    (void)preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    mk_tls_peer_t *p = ssl ? SSL_get_ex_data(ssl, peer_index) : NULL;
    if (!p) return 0;
    if (X509_STORE_CTX_get_error_depth(store) != 0) {
        fail_identity(p, "peer presented a certificate chain");
        return 0;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(store);
    if (chain && sk_X509_num(chain) != 1) {
        fail_identity(p, "peer presented more than one certificate");
        return 0;
    }
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
    if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        fail_identity(p, "peer certificate key is not Ed25519");
        return 0;
    }
    if (X509_verify(cert, key) != 1) {
        ERR_clear_error();
        fail_identity(p, "peer certificate self-signature is invalid");
        return 0;
    }
    mk_peer_id_t got;
    size_t len = sizeof got.b;
    if (EVP_PKEY_get_raw_public_key(key, got.b, &len) != 1 || len != 32) {
        fail_identity(p, "cannot read the peer's public key");
        return 0;
    }
    p->got = got;
    p->have_got = true;
    char a[MK_ID_SHORT_LEN + 1], b[MK_ID_SHORT_LEN + 1];
    if (p->dialer && mk_id_is_zero(&p->expected) && mk_id_eq(&got, &p->self)) {
        fail_identity(p, "the address answered with our own PeerId %s", mk_id_short(&got, a));
        return 0;
    }
    if (p->dialer && !mk_id_is_zero(&p->expected) && !mk_id_eq(&got, &p->expected)) {
        fail_identity(p, "expected %s, got %s", mk_id_short(&p->expected, a), mk_id_short(&got, b));
        return 0;
    }
    if (!p->dialer && mk_id_eq(&got, &p->self)) {
        fail_identity(p, "peer presented our own PeerId %s", mk_id_short(&got, a));
        return 0;
    }
    return 1;
}

/* Selects the first well-formed offered protocol, registered or not, so that an unknown ALPN still
 * completes the handshake and can be answered with Close 100. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    if (inlen < 2 || in[0] == 0 || (unsigned)in[0] + 1 > inlen) return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = in + 1;
    *outlen = in[0];
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *mk_tls_ctx_new(const mk_secret_key_t *sk, mk_error_t *e) {
    pthread_once(&peer_index_once, make_peer_index);
    char why[256];
    SSL_CTX *ctx = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk->seed, sizeof sk->seed);
    mk_peer_id_t pub = mk_secret_key_public(sk);
    if (!key || !(cert = mk_tls_make_cert(key, &pub))) goto fail;
    ctx = SSL_CTX_new(TLS_method());
    if (!ctx) goto fail;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        goto fail;
    if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"))
        goto fail;
    if (!SSL_CTX_set1_sigalgs_list(ctx, "ed25519") || !SSL_CTX_set1_groups_list(ctx, "X25519:P-256")) goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_max_early_data(ctx, 0);
    /* no partial writes: bufferevent_openssl moves on to the next chunk after a short SSL_write */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) goto fail;
    if (SSL_CTX_check_private_key(ctx) != 1) goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
fail:;
    unsigned long code = mk_tls_last_error(why, sizeof why);
    MK_ERR(e, MK_EIO, "TLS context setup failed: %s", why[0] ? why : "unknown OpenSSL error");
    if (e) e->ssl_err = code;
    SSL_CTX_free(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    return NULL;
}

SSL *mk_tls_new_ssl(SSL_CTX *ctx, mk_tls_peer_t *peer, const char *alpn) {
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    if (!SSL_set_ex_data(ssl, peer_index, peer)) goto fail;
    if (alpn) {
        size_t n = strlen(alpn);
        unsigned char wire[MK_ALPN_MAX + 1];
        if (n == 0 || n > MK_ALPN_MAX) goto fail;
        wire[0] = (unsigned char)n;
        memcpy(wire + 1, alpn, n);
        if (SSL_set_alpn_protos(ssl, wire, (unsigned)(n + 1)) != 0) goto fail;
    }
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}

bool mk_tls_selected_alpn(SSL *ssl, char buf[MK_ALPN_MAX + 1]) {
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    if (!p || n == 0 || n > MK_ALPN_MAX) return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    return true;
}
