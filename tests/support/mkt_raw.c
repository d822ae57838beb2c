/* support/mkt_raw.c — the hostile-peer client for network integration tests (see mkt_raw.h): non-blocking
 * socket + OpenSSL driven through poll() with deadlines, a small input buffer and frame decoding. */
#include "support/mkt_raw.h"

#include "support/mkt.h"

#include "core/error.h"
#include "net/framer.h"
#include "net/tls.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAW_FRAME_MAX (64u << 20)  /* larger announced frames are reported, never allocated */
#define RAW_READ_CHUNK (16u * 1024u)

struct mkt_raw_link {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int timeout_ms;
    bool ended;                  /* the read side saw the end of the stream */
    mk_buf_t in;                 /* bytes read, not yet consumed from in_off on */
    size_t in_off;
    char alpn[MK_ALPN_MAX + 1];
    char why[200];
};

/* ---- process-wide setup ---- */

static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

static void ignore_sigpipe(void) {
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static pthread_once_t rsa_once = PTHREAD_ONCE_INIT;
static EVP_PKEY *rsa_key;   /* one RSA-2048 identity per process: key generation is slow */
static X509 *rsa_cert;

static void make_rsa_identity(void) {
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    uint8_t serial[8];
    bool ok = key && x && name && RAND_bytes(serial, sizeof serial) == 1;
    if (ok) {
        serial[0] &= 0x7f;
        ASN1_INTEGER *s = ASN1_INTEGER_new();
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = s && bn && BN_to_ASN1_INTEGER(bn, s) && X509_set_serialNumber(x, s) && X509_set_version(x, 2) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mkt-raw-rsa", -1, -1,
                                        0) &&
             X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600) && X509_set_pubkey(x, key) &&
             X509_sign(x, key, EVP_sha256()) > 0;
        ASN1_INTEGER_free(s);
        BN_free(bn);
    }
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        EVP_PKEY_free(key);
        ERR_clear_error();
        return;
    }
    rsa_key = key;
    rsa_cert = x;
}

/* ---- deadlines ---- */

static double deadline_after(int ms) { return mkt_now() + (ms > 0 ? ms : 0) / 1000.0; }

/* Waits until fd is ready for `events` or the deadline passes: MK_OK or MK_ETIMEDOUT. */
static int wait_fd(int fd, short events, double deadline) {
    for (;;) {
        double left = deadline - mkt_now();
        if (left <= 0) return MK_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)(left * 1000) + 1);
        if (rc > 0) return MK_OK;  /* ready, or an error/hang-up the next call will report */
        if (rc < 0 && errno != EINTR) return MK_ETIMEDOUT;
    }
}

static void set_why_ssl(mkt_raw_link_t *r, const char *what) {
    char buf[160];
    unsigned long code = ERR_peek_last_error();
    if (code) ERR_error_string_n(code, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "EOF");
    ERR_clear_error();
    snprintf(r->why, sizeof r->why, "%s: %s", what, buf);
}

/* ---- connect and handshake ---- */

static int tcp_connect(mkt_raw_link_t *r, const mk_network_t *n, double deadline, mk_error_t *e) {
    mk_peer_addr_t addr;
    if (mk_network_addr(n, &addr) != MK_OK || addr.naddrs == 0)
        return MK_ERR(e, MK_EUNREACH, "the network publishes no address");
    const struct sockaddr_storage *ss = &addr.addrs[0];
    socklen_t slen = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    r->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) return MK_ERR_SYS(e, MK_EIO, errno, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(r->fd, (const struct sockaddr *)ss, slen) != 0) {
        if (errno != EINPROGRESS) return MK_ERR_SYS(e, MK_EUNREACH, errno, "connect: %s", strerror(errno));
        if (wait_fd(r->fd, POLLOUT, deadline) != MK_OK) return MK_ERR(e, MK_ETIMEDOUT, "connect timed out");
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) return MK_ERR_SYS(e, MK_EUNREACH, soerr, "connect: %s", strerror(soerr));
    }
    return MK_OK;
}

/* A client context: TLS 1.3, no server verification, the certificate the mode asks for. */
static SSL_CTX *client_ctx(mkt_raw_mode_t mode, const mk_secret_key_t *given) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
    bool ok = true;
    if (mode == MKT_RAW_TLS_ED25519) {
        mk_secret_key_t sk;
        if (given) sk = *given;
        else mk_secret_key_generate(&sk);
        mk_peer_id_t pub = mk_secret_key_public(&sk);
        EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk.seed, sizeof sk.seed);
        mk_secret_key_wipe(&sk);
        X509 *cert = key ? mk_tls_make_cert(key, &pub) : NULL;
        ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
        X509_free(cert);
        EVP_PKEY_free(key);
    } else if (mode == MKT_RAW_TLS_RSA) {
        pthread_once(&rsa_once, make_rsa_identity);
        ok = rsa_key && rsa_cert && SSL_CTX_use_certificate(ctx, rsa_cert) == 1 &&
             SSL_CTX_use_PrivateKey(ctx, rsa_key) == 1;
    }
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static bool set_alpn(SSL *ssl, const char *alpn) {
    if (!alpn) return true;
    size_t n = strlen(alpn);
    unsigned char wire[MK_ALPN_MAX + 1];
    if (n == 0 || n > MK_ALPN_MAX) return false;
    wire[0] = (unsigned char)n;
    memcpy(wire + 1, alpn, n);
    return SSL_set_alpn_protos(ssl, wire, (unsigned)(n + 1)) == 0;
}

static int tls_handshake(mkt_raw_link_t *r, const mkt_raw_opts_t *o, double deadline, mk_error_t *e) {
    r->ctx = client_ctx(o->mode, o->key);
    if (!r->ctx) {
        set_why_ssl(r, "client context");
        return MK_ERR(e, MK_EIO, "%s", r->why);
    }
    r->ssl = SSL_new(r->ctx);
    if (!r->ssl || SSL_set_fd(r->ssl, r->fd) != 1 || !set_alpn(r->ssl, o->alpn))
        return MK_ERR(e, MK_EIO, "cannot set up the client SSL");
    SSL_set_connect_state(r->ssl);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(r->ssl);
        if (rc == 1) break;
        int err = SSL_get_error(r->ssl, rc);
        int w = MK_ETIMEDOUT;
        if (err == SSL_ERROR_WANT_READ) w = wait_fd(r->fd, POLLIN, deadline);
        else if (err == SSL_ERROR_WANT_WRITE) w = wait_fd(r->fd, POLLOUT, deadline);
        else {
            set_why_ssl(r, "TLS handshake");
            return MK_ERR(e, MK_EIO, "%s", r->why);
        }
        if (w != MK_OK) return MK_ERR(e, MK_ETIMEDOUT, "TLS handshake timed out");
    }
    const unsigned char *sel = NULL;
    unsigned int sel_len = 0;
    SSL_get0_alpn_selected(r->ssl, &sel, &sel_len);
    if (sel && sel_len) {
        memcpy(r->alpn, sel, sel_len);
        r->alpn[sel_len] = 0;
    }
    return MK_OK;
}

mkt_raw_link_t *mkt_raw_link(const mk_network_t *n, const mkt_raw_opts_t *opts, mk_error_t *e) {
    pthread_once(&sigpipe_once, ignore_sigpipe);
    mkt_raw_opts_t o = opts ? *opts : (mkt_raw_opts_t){0};
    mkt_raw_link_t *r = calloc(1, sizeof *r);
    if (!r) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = -1;
    r->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : mkt_ms(5000);
    double deadline = deadline_after(r->timeout_ms);
    int rc = tcp_connect(r, n, deadline, e);
    if (rc == MK_OK && o.mode != MKT_RAW_TCP) rc = tls_handshake(r, &o, deadline, e);
    if (rc != MK_OK) {
        mkt_raw_close(r);
        return NULL;
    }
    return r;
}

void mkt_raw_close(mkt_raw_link_t *r) {
    if (!r) return;
    SSL_free(r->ssl);  /* no SSL_shutdown: the hostile peer just vanishes */
    SSL_CTX_free(r->ctx);
    if (r->fd >= 0) close(r->fd);
    mk_buf_free(&r->in);
    free(r);
}

int mkt_raw_fd(const mkt_raw_link_t *r) { return r->fd; }
const char *mkt_raw_alpn(const mkt_raw_link_t *r) { return r->alpn; }
const char *mkt_raw_why(const mkt_raw_link_t *r) { return r->why; }

int mkt_raw_export(const mkt_raw_link_t *r, const char *label, const void *ctx, size_t ctx_len, uint8_t *out,
                   size_t n) {
    if (!r->ssl || !label || !out) return MK_EINVAL;
    return SSL_export_keying_material(r->ssl, out, n, label, strlen(label), ctx, ctx_len, 1) == 1 ? MK_OK : MK_EIO;
}

/* ---- writing ---- */

int mkt_raw_send(mkt_raw_link_t *r, const void *p, size_t n) {
    const uint8_t *b = p;
    double deadline = deadline_after(r->timeout_ms);
    while (n > 0) {
        short want = POLLOUT;
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        if (r->ssl) {
            ERR_clear_error();
            errno = 0;
            int w = SSL_write(r->ssl, b, (int)chunk);
            if (w > 0) {
                b += w;
                n -= (size_t)w;
                continue;
            }
            int err = SSL_get_error(r->ssl, w);
            if (err == SSL_ERROR_WANT_READ) want = POLLIN;
            else if (err != SSL_ERROR_WANT_WRITE) {
                set_why_ssl(r, "TLS write");
                return MK_ECLOSED;
            }
        } else {
            ssize_t w = send(r->fd, b, chunk, MSG_NOSIGNAL);
            if (w > 0) {
                b += w;
                n -= (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                snprintf(r->why, sizeof r->why, "write: %s", strerror(errno));
                return MK_ECLOSED;
            }
        }
        if (wait_fd(r->fd, want, deadline) != MK_OK) return MK_ETIMEDOUT;
    }
    return MK_OK;
}

int mkt_raw_send_header(mkt_raw_link_t *r, uint32_t header) {
    uint8_t h[4] = {(uint8_t)(header >> 24), (uint8_t)(header >> 16), (uint8_t)(header >> 8), (uint8_t)header};
    return mkt_raw_send(r, h, sizeof h);
}

static int send_buf(mkt_raw_link_t *r, int enc_rc, mk_buf_t *b) {
    int rc = enc_rc == MK_OK ? mkt_raw_send(r, b->ptr, b->len) : enc_rc;
    mk_buf_free(b);
    return rc;
}

int mkt_raw_send_hello(mkt_raw_link_t *r, mk_network_id_t id) {
    mk_buf_t b = MK_BUF_INIT;
    return send_buf(r, mk_control_encode_hello(1, &id, 16u << 20, &b), &b);
}

int mkt_raw_send_frame(mkt_raw_link_t *r, const void *p, size_t n) {
    if (n > MK_FRAME_LEN_MASK) return MK_E2BIG;
    int rc = mkt_raw_send_header(r, (uint32_t)n);
    return rc == MK_OK && n ? mkt_raw_send(r, p, n) : rc;
}

int mkt_raw_send_close(mkt_raw_link_t *r, uint32_t code, const char *reason) {
    mk_buf_t b = MK_BUF_INIT;
    return send_buf(r, mk_control_encode_close(code, reason, &b), &b);
}

int mkt_raw_shutdown(mkt_raw_link_t *r, bool close_notify) {
    if (r->ssl && close_notify) {
        ERR_clear_error();
        SSL_shutdown(r->ssl);  /* queues close_notify; we do not wait for the peer's */
        ERR_clear_error();
    }
    return shutdown(r->fd, SHUT_WR) == 0 ? MK_OK : MK_ECLOSED;
}

/* ---- reading ---- */

/* Reads what is available into r->in: > 0 bytes read; 0 = the stream ended (r->why says how);
 * MK_ETIMEDOUT when nothing arrived before the deadline (one attempt is always made). */
static int read_some(mkt_raw_link_t *r, double deadline) {
    if (r->ended) return 0;
    if (mk_buf_reserve(&r->in, RAW_READ_CHUNK) != MK_OK) return MK_ETIMEDOUT;
    uint8_t *dst = (uint8_t *)r->in.ptr + r->in.len;
    for (;;) {
        short want = POLLIN;
        if (r->ssl) {
            ERR_clear_error();
            errno = 0;
            int got = SSL_read(r->ssl, dst, (int)RAW_READ_CHUNK);
            if (got > 0) {
                r->in.len += (size_t)got;
                return got;
            }
            int err = SSL_get_error(r->ssl, got);
            if (err == SSL_ERROR_WANT_WRITE) want = POLLOUT;
            else if (err != SSL_ERROR_WANT_READ) {
                if (err == SSL_ERROR_ZERO_RETURN) snprintf(r->why, sizeof r->why, "EOF");
                else set_why_ssl(r, "TLS read");
                ERR_clear_error();
                r->ended = true;
                return 0;
            }
        } else {
            ssize_t got = recv(r->fd, dst, RAW_READ_CHUNK, 0);
            if (got > 0) {
                r->in.len += (size_t)got;
                return (int)got;
            }
            if (got < 0 && errno == EINTR) continue;
            if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                snprintf(r->why, sizeof r->why, "%s", got == 0 ? "EOF" : strerror(errno));
                r->ended = true;
                return 0;
            }
        }
        if (wait_fd(r->fd, want, deadline) != MK_OK) return MK_ETIMEDOUT;
    }
}

static void consume(mkt_raw_link_t *r, size_t n) {
    r->in_off += n;
    if (r->in_off == r->in.len) {
        r->in.len = r->in_off = 0;
    } else if (r->in_off > r->in.len / 2) {
        memmove(r->in.ptr, (uint8_t *)r->in.ptr + r->in_off, r->in.len - r->in_off);
        r->in.len -= r->in_off;
        r->in_off = 0;
    }
}

static void decode_control(mkt_raw_frame_t *out) {
    mk_control_t c;
    if (mk_control_decode(out->body.ptr, out->len, &c, NULL) != MK_OK) return;
    out->kind = c.kind;
    if (c.kind == MK_CONTROL_HELLO) {
        out->hello_version = c.hello.version;
        out->hello_network_id = c.hello.network_id;
        out->hello_max_frame = c.hello.max_frame;
    } else {
        size_t n = c.close.reason_len < sizeof out->close_reason - 1 ? c.close.reason_len
                                                                       : sizeof out->close_reason - 1;
        out->close_code = c.close.code;
        if (n) memcpy(out->close_reason, c.close.reason, n);
        out->close_reason[n] = 0;
    }
}

int mkt_raw_read_frame(mkt_raw_link_t *r, mkt_raw_frame_t *out, int timeout_ms) {
    memset(out, 0, sizeof *out);
    out->kind = -1;
    double deadline = deadline_after(timeout_ms);
    for (;;) {
        size_t avail = r->in.len - r->in_off;
        if (avail >= 4) {
            const uint8_t *h = (const uint8_t *)r->in.ptr + r->in_off;
            uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            uint32_t len = v & MK_FRAME_LEN_MASK;
            if (len > RAW_FRAME_MAX) {
                snprintf(r->why, sizeof r->why, "frame header announces %u bytes", len);
                return MK_EPROTO;
            }
            if (avail >= 4 + (size_t)len) {
                out->control = (v & MK_FRAME_CONTROL_BIT) != 0;
                out->len = len;
                if (mk_buf_append(&out->body, h + 4, len) != MK_OK) return MK_ENOMEM;
                consume(r, 4 + (size_t)len);
                if (out->control) decode_control(out);
                return MK_OK;
            }
            if (mk_buf_reserve(&r->in, 4 + (size_t)len - avail) != MK_OK) return MK_ENOMEM;
        }
        int got = read_some(r, deadline);
        if (got == 0) return MK_ECLOSED;
        if (got < 0) return MK_ETIMEDOUT;
    }
}

void mkt_raw_frame_free(mkt_raw_frame_t *f) {
    if (f) mk_buf_free(&f->body);
}

int mkt_raw_read_close(mkt_raw_link_t *r, int timeout_ms, uint32_t *code, char *reason, size_t cap) {
    double deadline = deadline_after(timeout_ms);
    for (;;) {
        int left = (int)((deadline - mkt_now()) * 1000);
        mkt_raw_frame_t f;
        int rc = mkt_raw_read_frame(r, &f, left > 0 ? left : 0);
        if (rc != MK_OK) return rc;
        bool is_close = f.control && f.kind == MK_CONTROL_CLOSE;
        if (is_close) {
            if (code) *code = f.close_code;
            if (reason && cap) snprintf(reason, cap, "%s", f.close_reason);
        }
        mkt_raw_frame_free(&f);
        if (is_close) return MK_OK;
    }
}

int mkt_raw_wait_eof(mkt_raw_link_t *r, int timeout_ms) {
    double deadline = deadline_after(timeout_ms);
    for (;;) {
        r->in.len = r->in_off = 0;
        int got = read_some(r, deadline);
        if (got == 0) return MK_OK;
        if (got < 0) return MK_ETIMEDOUT;
    }
}

/* ---- utilities ---- */

int mkt_raw_client_hello(const char *alpn, mk_buf_t *out) {
    SSL_CTX *ctx = client_ctx(MKT_RAW_TLS_NO_CERT, NULL);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    int rc = MK_EIO;
    if (ssl && rbio && wbio && set_alpn(ssl, alpn)) {
        SSL_set_bio(ssl, rbio, wbio);  /* ssl owns both BIOs now */
        rbio = wbio = NULL;
        SSL_set_connect_state(ssl);
        SSL_do_handshake(ssl);  /* writes the ClientHello, then wants to read */
        BIO *w = SSL_get_wbio(ssl);
        char *data = NULL;
        long n = BIO_get_mem_data(w, &data);
        if (n > 0 && data) rc = mk_buf_append(out, data, (size_t)n);
    }
    ERR_clear_error();
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return rc;
}

size_t mkt_raw_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (size_t)resident * (size_t)page : 0;
}

size_t mkt_raw_heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
