/* integration/net/metrics_endpoint — a network with metrics_addr serves GET /metrics: 200, the
 * Prometheus content type, link metrics labelled with network and peer, valid text under concurrent
 * scrapes while links carry traffic; other methods get 405. */
#include "support/mkt_net.h"
#include "support/prom_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALPN "/test/metrics"

static void with_metrics(mk_network_config_t *cfg) { cfg->metrics_addr = "127.0.0.1:0"; }

/* One HTTP/1.0 request; returns the whole response (malloc'd) or NULL. */
static char *http(const char *addr, const char *method) {
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon) return NULL;
    *colon = 0;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return NULL;
    }
    char req[128];
    int n = snprintf(req, sizeof req, "%s /metrics HTTP/1.0\r\nHost: x\r\n\r\n", method);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = 0;
    close(fd);
    return buf;
}

static void get_metrics_returns_valid_exposition_with_link_metrics(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, with_metrics);
    char addr[64];
    assert_int_equal(mk_network_metrics_addr(p.nb, addr, sizeof addr), MK_OK);
    char *resp = http(addr, "GET");
    assert_non_null(resp);
    assert_non_null(strstr(resp, " 200 "));
    assert_non_null(strstr(resp, "text/plain; version=0.0.4; charset=utf-8"));
    char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    char why[256];
    if (mkt_prom_check(body, strlen(body), why, sizeof why) != 0) fail_msg("invalid exposition: %s", why);
    mk_peer_id_t me = mk_network_peer_id(p.nb);
    char peer[MK_ID_SHORT_LEN + 1];
    mk_id_short(&me, peer);
    const char *kv[] = {"peer", peer, "alpn", ALPN, "dir", "in", NULL};
    double v = 0;
    assert_true(mkt_prom_value(body, strlen(body), "mosaik_network_connections_opened", kv, &v));
    assert_true(v >= 1);
    assert_non_null(strstr(body, "network=\""));
    free(resp);
    resp = http(addr, "POST");
    assert_non_null(resp);
    assert_non_null(strstr(resp, " 405 "));
    free(resp);
    mk_network_t *plain = mkt_net_new(NULL);
    assert_int_equal(mk_network_metrics_addr(plain, addr, sizeof addr), MK_ENOTFOUND);
    mk_network_free(plain);
    mkt_pair_close(&p);
}

typedef struct scraper { const char *addr; int ok; } scraper_t;

static void *scrape(void *arg) {
    scraper_t *s = arg;
    for (int i = 0; i < 5; i++) {
        char *resp = http(s->addr, "GET");
        char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
        if (body && strstr(resp, " 200 ") && mkt_prom_check(body + 4, strlen(body + 4), NULL, 0) == 0) s->ok++;
        free(resp);
    }
    return NULL;
}

static void concurrent_scrapes_during_traffic_all_pass_the_checker(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, with_metrics);
    char addr[64];
    mk_network_metrics_addr(p.nb, addr, sizeof addr);
    enum { SCRAPERS = 10 };
    scraper_t s[SCRAPERS];
    pthread_t t[SCRAPERS];
    for (int i = 0; i < SCRAPERS; i++) {
        s[i] = (scraper_t){addr, 0};
        pthread_create(&t[i], NULL, scrape, &s[i]);
    }
    mk_error_t e;
    for (int i = 0; i < 2000; i++) {
        mk_frame_t f = MK_FRAME_INIT;
        assert_int_equal(mk_link_send(p.a, &i, sizeof i, mkt_ms(2000), &e), MK_OK);
        assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(2000), &e), MK_OK);
        mk_frame_free(&f);
    }
    for (int i = 0; i < SCRAPERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(s[i].ok, 5);
    }
    assert_true(mkt_metric(p.nb, "mosaik_metrics_scrapes", NULL) >= SCRAPERS * 5);
    assert_true(mkt_metric(p.nb, "mosaik_network_frames_received", ALPN) >= 2000);
    mkt_pair_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_metrics_returns_valid_exposition_with_link_metrics),
        cmocka_unit_test(concurrent_scrapes_during_traffic_all_pass_the_checker),
    };
    return mkt_run("integration.net.metrics_endpoint", tests, sizeof tests / sizeof tests[0]);
}
