/* net/metrics_http.c — the Prometheus endpoint: parses metrics_addr, owns the listening socket and an
 * evhttp server on the caller's event_base, and answers requests with the registry's rendering.
 * Runs entirely on the loop thread; the registry has its own lock. Contracts in net/metrics_http.h. */
#include "net/metrics_http.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADERS_BYTES 8192
#define TIMEOUT_S 5
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define BOUND_MAX 64 /* "[" 45-char IPv6 "]:" 5-digit port, NUL */

struct mk_metrics_http {
    struct evhttp *http;
    mk_registry_t *registry;
    mk_counter_t *scrapes;
    char bound[BOUND_MAX];
};

/* ---- address ----------------------------------------------------------------------------------- */

static bool parse_port(const char *s, uint16_t *port) {
    size_t n = strlen(s);
    if (n == 0 || n > 5) return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

/* "a.b.c.d:port" or "[v6]:port" → sockaddr. MK_EINVAL naming metrics_addr. */
static int parse_ip_port(const char *s, struct sockaddr_storage *ss, socklen_t *len, mk_error_t *e) {
    char host[INET6_ADDRSTRLEN];
    const char *host_start = s, *host_end, *port_text;
    bool v6 = s[0] == '[';
    if (v6) {
        host_start = s + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':') goto bad;
        port_text = host_end + 2;
    } else {
        host_end = strchr(s, ':');
        if (!host_end || strchr(host_end + 1, ':')) goto bad;
        port_text = host_end + 1;
    }
    size_t host_len = (size_t)(host_end - host_start);
    if (host_len == 0 || host_len >= sizeof host) goto bad;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    uint16_t port;
    if (!parse_port(port_text, &port)) goto bad;
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) goto bad;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) goto bad;
        *len = sizeof *a;
    }
    return MK_OK;
bad:
    return MK_ERR(e, MK_EINVAL, "metrics_addr \"%.64s\": expected ip:port or [ipv6]:port", s);
}

static void format_bound(const struct sockaddr_storage *ss, char out[BOUND_MAX]) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, BOUND_MAX, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, BOUND_MAX, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    }
}

/* Opens a non-blocking listening socket on ss and stores its bound address. -1 with e set (MK_EIO). */
static int open_listener(const char *ip_port, const struct sockaddr_storage *ss, socklen_t len,
                         char bound[BOUND_MAX], mk_error_t *e) {
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int en = errno;
        MK_ERR_SYS(e, MK_EIO, en, "metrics_addr %s: socket: %s", ip_port, strerror(en));
        return -1;
    }
    int one = 1;
    const char *step = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail;
    if (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) goto fail;
    step = "bind";
    if (bind(fd, (const struct sockaddr *)ss, len) != 0) goto fail;
    step = "listen";
    if (listen(fd, 64) != 0) goto fail;
    step = "getsockname";
    struct sockaddr_storage actual;
    socklen_t actual_len = sizeof actual;
    if (getsockname(fd, (struct sockaddr *)&actual, &actual_len) != 0) goto fail;
    format_bound(&actual, bound);
    return fd;
fail:;
    int en = errno;
    close(fd);
    MK_ERR_SYS(e, MK_EIO, en, "metrics_addr %s: %s: %s", ip_port, step, strerror(en));
    return -1;
}

/* ---- requests ---------------------------------------------------------------------------------- */

static void free_rendered(const void *data, size_t len, void *extra) {
    (void)len;
    (void)extra;
    free((void *)data);
}

static void on_request(struct evhttp_request *req, void *arg) {
    mk_metrics_http_t *h = arg;
    mk_counter_add(h->scrapes, 1);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    struct evbuffer *body = evhttp_request_get_output_buffer(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(headers, "Allow", "GET, HEAD");
        evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add(body, "method not allowed\n", 19);
        evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
        return;
    }
    mk_buf_t text = MK_BUF_INIT;
    if (mk_registry_render(h->registry, &text) != MK_OK) {
        mk_buf_free(&text);
        evhttp_send_error(req, 500, "metrics rendering failed");
        return;
    }
    evhttp_add_header(headers, "Content-Type", CONTENT_TYPE);
    if (method == EVHTTP_REQ_HEAD) {
        /* libevent adds neither Content-Length nor (correctly) a body for HEAD: announce the GET length */
        char length[24];
        snprintf(length, sizeof length, "%zu", text.len);
        evhttp_add_header(headers, "Content-Length", length);
        mk_buf_free(&text);
    } else if (text.len > 0 && evbuffer_add_reference(body, text.ptr, text.len, free_rendered, NULL) != 0) {
        mk_buf_free(&text);
        evhttp_send_error(req, 500, "out of memory");
        return;
    } else if (text.len == 0) {
        mk_buf_free(&text);
    }
    evhttp_send_reply(req, 200, "OK", NULL);
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

mk_metrics_http_t *mk_metrics_http_start(struct event_base *base, const char *ip_port, mk_registry_t *r,
                                         mk_error_t *e) {
    if (!base || !ip_port || !r) {
        MK_ERR(e, MK_EINVAL, "metrics_addr: %s is NULL", !base ? "event base" : !ip_port ? "address" : "registry");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (parse_ip_port(ip_port, &ss, &len, e) != MK_OK) return NULL;
    mk_metrics_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        MK_ERR(e, MK_ENOMEM, "metrics_addr %s: out of memory", ip_port);
        return NULL;
    }
    h->registry = r;
    h->scrapes = mk_metrics_counter(r, MK_METRIC_NAME(METRICS_SCRAPES), NULL); /* NULL at the cap: fine */
    int fd = open_listener(ip_port, &ss, len, h->bound, e);
    if (fd < 0) {
        free(h);
        return NULL;
    }
    struct evconnlistener *listener = NULL;
    h->http = evhttp_new(base);
    if (h->http) listener = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!listener) close(fd); /* otherwise the listener owns fd, and h->http owns the listener below */
    if (listener && !evhttp_bind_listener(h->http, listener)) {
        evconnlistener_free(listener);
        listener = NULL;
    }
    if (!listener) {
        if (h->http) evhttp_free(h->http);
        free(h);
        MK_ERR(e, MK_ENOMEM, "metrics_addr %s: cannot create the HTTP server", ip_port);
        return NULL;
    }
    evhttp_set_max_headers_size(h->http, MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(h->http, 0);
    evhttp_set_timeout(h->http, TIMEOUT_S);
    /* every method reaches on_request, which answers 405 itself (libevent would say 501) */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    return h;
}

int mk_metrics_http_bound(const mk_metrics_http_t *h, char *buf, size_t cap) {
    if (!h || !buf) return MK_EINVAL;
    size_t n = strlen(h->bound);
    if (n >= cap) {
        if (cap) buf[0] = '\0';
        return MK_E2BIG;
    }
    memcpy(buf, h->bound, n + 1);
    return MK_OK;
}

void mk_metrics_http_stop(mk_metrics_http_t *h) {
    if (!h) return;
    evhttp_free(h->http);
    free(h);
}
