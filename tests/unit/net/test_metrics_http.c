/* unit/net/test_metrics_http.c — the Prometheus endpoint on a real event_base: GET/HEAD replies and
 * their content type, 405 for other methods, refused bodies and oversized headers, concurrent
 * scrapes, address parsing and bind failures.
 *
 * Threads: each test runs an event_base on its own loop thread (EVLOOP_NO_EXIT_ON_EMPTY) while the
 * test thread acts as a plain-socket HTTP client. It stops with event_base_loopexit from the test
 * thread, which is why main() calls evthread_use_pthreads() first; the endpoint is freed after the
 * loop thread has been joined, as mk_metrics_http_stop allows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/metrics_http.h"
#include "support/prom_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define KV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct fixture {
    struct event_base *base;
    mk_registry_t *r;
    mk_metrics_http_t *h;
    pthread_t loop;
    char bound[64];
} fixture_t;

static void *loop_main(void *arg) {
    event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    mk_error_t err = { 0 };
    f->base = event_base_new();
    f->r = mk_registry_new(KV("network", "7e886b3491", "peer", "d75a980182"));
    f->h = mk_metrics_http_start(f->base, "127.0.0.1:0", f->r, &err);
    if (!f->h) fail_msg("start: %s", err.msg);
    assert_int_equal(mk_metrics_http_bound(f->h, f->bound, sizeof f->bound), MK_OK);
    assert_int_equal(pthread_create(&f->loop, NULL, loop_main, f->base), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    event_base_loopexit(f->base, NULL);
    pthread_join(f->loop, NULL);
    mk_metrics_http_stop(f->h);
    event_base_free(f->base);
    mk_registry_free(f->r);
    free(f);
    return 0;
}

/* ---- a tiny HTTP client ------------------------------------------------------------------------ */

typedef struct reply {
    int status;
    char head[16384]; /* status line and headers, NUL-terminated */
    char *body;       /* malloc'd, NUL-terminated */
    size_t body_len;
    size_t total;     /* bytes received */
} reply_t;

static int connect_to(const char *bound) {
    char host[64];
    snprintf(host, sizeof host, "%s", bound);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = '\0';
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends request, reads until EOF; returns 0 or -1 (no connection, nothing parsable). */
static int http_exchange(const char *bound, const char *request, size_t len, reply_t *out) {
    memset(out, 0, sizeof *out);
    int fd = connect_to(bound);
    if (fd < 0) return -1;
    for (size_t sent = 0; sent < len;) {
        ssize_t k = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
        if (k <= 0) break; /* the server may refuse early; read what it said */
        sent += (size_t)k;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    out->total = n;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1 || (size_t)(end - buf) >= sizeof out->head) {
        free(buf);
        return -1;
    }
    memcpy(out->head, buf, (size_t)(end - buf) + 2);
    out->body_len = n - (size_t)(end + 4 - buf);
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, end + 4, out->body_len + 1);
    free(buf);
    return 0;
}

static int http_simple(const char *bound, const char *method, const char *path, reply_t *out) {
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, path);
    return http_exchange(bound, req, (size_t)n, out);
}

/* Value of header `name` (case as libevent writes it), or NULL. */
static const char *header(const reply_t *r, const char *name, char *val, size_t cap) {
    char key[128];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *at = strstr(r->head, key);
    if (!at) return NULL;
    at += strlen(key);
    size_t n = strcspn(at, "\r");
    if (n >= cap) n = cap - 1;
    memcpy(val, at, n);
    val[n] = '\0';
    return val;
}

static void assert_valid_body(const reply_t *r) {
    char why[256];
    if (mkt_prom_check(r->body, r->body_len, why, sizeof why) != 0) fail_msg("prom_check: %s", why);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void get_metrics_returns_200_prometheus_text_with_constant_labels(void **state) {
    fixture_t *f = *state;
    mk_counter_add(mk_metrics_counter(f->r, "mosaik_network_connections_opened", KV("alpn", "/test", "dir", "in")), 1);
    reply_t rep;
    assert_int_equal(http_simple(f->bound, "GET", "/metrics", &rep), 0);
    assert_int_equal(rep.status, 200);
    char val[128];
    assert_non_null(header(&rep, "Content-Type", val, sizeof val));
    assert_string_equal(val, CONTENT_TYPE);
    assert_non_null(header(&rep, "Content-Length", val, sizeof val));
    assert_int_equal(strtoul(val, NULL, 10), rep.body_len);
    assert_valid_body(&rep);
    double v = 0;
    assert_true(mkt_prom_value(rep.body, rep.body_len, "mosaik_network_connections_opened",
                               KV("network", "7e886b3491", "peer", "d75a980182", "alpn", "/test"), &v));
    assert_true(v >= 1.0);
    assert_true(mkt_prom_value(rep.body, rep.body_len, "mosaik_metrics_scrapes", NULL, &v));
    assert_true(v == 1.0);
    free(rep.body);
}

static void get_any_path_returns_200(void **state) {
    fixture_t *f = *state;
    static const char req[] = "GET /some/other/path?x=1 HTTP/1.0\r\n\r\n";
    reply_t rep;
    assert_int_equal(http_exchange(f->bound, req, sizeof req - 1, &rep), 0);
    assert_int_equal(rep.status, 200);
    assert_valid_body(&rep);
    assert_non_null(strstr(rep.body, "# TYPE mosaik_metrics_scrapes counter\n"));
    free(rep.body);
}

static void head_returns_headers_without_body(void **state) {
    fixture_t *f = *state;
    reply_t rep;
    assert_int_equal(http_simple(f->bound, "HEAD", "/metrics", &rep), 0);
    assert_int_equal(rep.status, 200);
    char val[128];
    assert_non_null(header(&rep, "Content-Type", val, sizeof val));
    assert_string_equal(val, CONTENT_TYPE);
    assert_non_null(header(&rep, "Content-Length", val, sizeof val));
    assert_true(strtoul(val, NULL, 10) > 100);
    assert_int_equal(rep.body_len, 0);
    free(rep.body);
}

static void post_and_delete_return_405_and_count_as_scrapes(void **state) {
    fixture_t *f = *state;
    static const char post[] = "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    reply_t rep;
    assert_int_equal(http_exchange(f->bound, post, sizeof post - 1, &rep), 0);
    assert_int_equal(rep.status, 405);
    char val[128];
    assert_non_null(header(&rep, "Allow", val, sizeof val));
    assert_string_equal(val, "GET, HEAD");
    free(rep.body);
    assert_int_equal(http_simple(f->bound, "DELETE", "/metrics", &rep), 0);
    assert_int_equal(rep.status, 405);
    free(rep.body);
    assert_int_equal(http_simple(f->bound, "OPTIONS", "/", &rep), 0);
    assert_int_equal(rep.status, 405);
    free(rep.body);
    assert_int_equal(mk_counter_value(mk_metrics_counter(f->r, "mosaik_metrics_scrapes", NULL)), 3);
}

static void request_with_body_is_refused(void **state) {
    fixture_t *f = *state;
    static const char post[] = "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    reply_t rep;
    assert_int_equal(http_exchange(f->bound, post, sizeof post - 1, &rep), 0);
    assert_int_equal(rep.status, 413); /* libevent refuses it before the handler runs */
    free(rep.body);
    assert_int_equal(mk_counter_value(mk_metrics_counter(f->r, "mosaik_metrics_scrapes", NULL)), 0);
}

static void oversized_headers_are_refused(void **state) {
    fixture_t *f = *state;
    size_t big = 9000;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'a', big);
    size_t len = (size_t)n + big;
    len += (size_t)sprintf(req + len, "\r\nConnection: close\r\n\r\n");
    reply_t rep;
    assert_int_equal(http_exchange(f->bound, req, len, &rep), 0);
    assert_true(rep.status == 400 || rep.status == 431); /* libevent 2.1 says 400 */
    free(rep.body);
    free(req);
    /* a normal request still works afterwards */
    assert_int_equal(http_simple(f->bound, "GET", "/", &rep), 0);
    assert_int_equal(rep.status, 200);
    free(rep.body);
}

#define CLIENTS 20
#define SCRAPES_EACH 5

typedef struct client { const fixture_t *f; int ok; } client_t;

static void *client_main(void *arg) {
    client_t *c = arg;
    for (int i = 0; i < SCRAPES_EACH; i++) {
        reply_t rep;
        if (http_simple(c->f->bound, "GET", "/metrics", &rep) != 0) continue;
        if (rep.status == 200 && mkt_prom_check(rep.body, rep.body_len, NULL, 0) == 0) c->ok++;
        free(rep.body);
    }
    return NULL;
}

static void concurrent_scrapes_all_pass_the_checker(void **state) {
    fixture_t *f = *state;
    pthread_t th[CLIENTS];
    client_t c[CLIENTS];
    mk_hist_t *h = mk_metrics_hist(f->r, "mosaik_network_rtt_seconds", NULL);
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = (client_t){ f, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &c[i]), 0);
    }
    for (int i = 0; i < 20000; i++) mk_hist_observe(h, (i % 7) * 0.001); /* updates during scrapes */
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].ok, SCRAPES_EACH);
    }
    assert_int_equal(mk_counter_value(mk_metrics_counter(f->r, "mosaik_metrics_scrapes", NULL)), CLIENTS * SCRAPES_EACH);
}

static void stop_with_half_sent_request_frees_everything(void **state) {
    fixture_t *f = *state;
    int fd = connect_to(f->bound);
    assert_true(fd >= 0);
    assert_true(send(fd, "GET /met", 8, MSG_NOSIGNAL) == 8);
    reply_t rep; /* a complete exchange proves the half-sent one was accepted by then */
    assert_int_equal(http_simple(f->bound, "GET", "/", &rep), 0);
    free(rep.body);
    event_base_loopexit(f->base, NULL);
    pthread_join(f->loop, NULL);
    mk_metrics_http_stop(f->h); /* closes the pending connection: LSan/ASan check the rest */
    f->h = NULL;
    char byte;
    assert_true(recv(fd, &byte, 1, 0) <= 0);
    close(fd);
    assert_int_equal(pthread_create(&f->loop, NULL, loop_main, f->base), 0); /* for teardown */
}

static void idle_connection_is_cut_after_5_s(void **state) {
    fixture_t *f = *state;
    int fd = connect_to(f->bound);
    assert_true(fd >= 0);
    assert_true(send(fd, "GET /met", 8, MSG_NOSIGNAL) == 8);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    char byte;
    ssize_t k = recv(fd, &byte, 1, 0); /* SO_RCVTIMEO is 10 s */
    gettimeofday(&t1, NULL);
    close(fd);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    assert_true(k == 0 || (k < 0 && errno == ECONNRESET));
    assert_true(waited > 4.0 && waited < 8.0);
}

static void start_port_in_use_fails_with_eio_naming_metrics_addr(void **state) {
    fixture_t *f = *state;
    mk_error_t err = { 0 };
    assert_null(mk_metrics_http_start(f->base, f->bound, f->r, &err)); /* fails before touching base */
    assert_int_equal(err.code, MK_EIO);
    assert_int_equal(err.sys_errno, EADDRINUSE);
    assert_non_null(strstr(err.msg, "metrics_addr"));
    assert_non_null(strstr(err.msg, f->bound));
}

static void start_malformed_addr_fails_with_einval(void **state) {
    fixture_t *f = *state;
    static const char *bad[] = {
        "127.0.0.1", "127.0.0.1:", ":80", "localhost:80", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
        "127.0.0.1:123456", "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80", "[127.0.0.1]:80", "1.2.3:80", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk_error_t err = { 0 };
        if (mk_metrics_http_start(f->base, bad[i], f->r, &err)) fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(err.code, MK_EINVAL);
        assert_non_null(strstr(err.msg, "metrics_addr"));
    }
    mk_error_t err = { 0 };
    assert_null(mk_metrics_http_start(NULL, "127.0.0.1:0", f->r, &err));
    assert_int_equal(err.code, MK_EINVAL);
    assert_null(mk_metrics_http_start(f->base, "127.0.0.1:0", NULL, &err));
    char small[4];
    assert_int_equal(mk_metrics_http_bound(f->h, small, sizeof small), MK_E2BIG);
    assert_string_equal(small, "");
}

static void start_ipv6_loopback_reports_bracketed_bound(void **state) {
    struct event_base *base = event_base_new();
    mk_registry_t *r = mk_registry_new(NULL);
    mk_error_t err = { 0 };
    mk_metrics_http_t *h = mk_metrics_http_start(base, "[::1]:0", r, &err);
    if (!h) {
        mk_registry_free(r);
        event_base_free(base);
        assert_int_equal(err.code, MK_EIO);
        skip(); /* no IPv6 loopback on this machine */
    }
    char bound[64];
    assert_int_equal(mk_metrics_http_bound(h, bound, sizeof bound), MK_OK);
    assert_int_equal(strncmp(bound, "[::1]:", 6), 0);
    assert_true(atoi(bound + 6) > 0);
    mk_metrics_http_stop(h);
    mk_registry_free(r);
    event_base_free(base);
}

int main(void) {
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_metrics_returns_200_prometheus_text_with_constant_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(get_any_path_returns_200, setup, teardown),
        cmocka_unit_test_setup_teardown(head_returns_headers_without_body, setup, teardown),
        cmocka_unit_test_setup_teardown(post_and_delete_return_405_and_count_as_scrapes, setup, teardown),
        cmocka_unit_test_setup_teardown(request_with_body_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_headers_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_scrapes_all_pass_the_checker, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_with_half_sent_request_frees_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_connection_is_cut_after_5_s, setup, teardown),
        cmocka_unit_test_setup_teardown(start_port_in_use_fails_with_eio_naming_metrics_addr, setup, teardown),
        cmocka_unit_test_setup_teardown(start_malformed_addr_fails_with_einval, setup, teardown),
        cmocka_unit_test(start_ipv6_loopback_reports_bracketed_bound),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    libevent_global_shutdown();
    return failed;
}
