/* bench/bench_link.c — link throughput and latency, libmosaik's framed TLS link against a raw
 * OpenSSL TLS 1.3 socket pair (same suites, Ed25519 certificates, 4-byte framing, blocking
 * SSL_write/SSL_read), measured in the same run. Each system runs as two processes (fork): the
 * receiver/echo side in the parent, the sender in the child. Prints one JSON line per row and the
 * ratio lines libmosaik-link / raw-tls. `--smoke` runs short phases (CTest's bench-smoke). */
#include <mosaik/mosaik.h>

#include "net/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ALPN "/bench/link"

static double phase_s = 3.0;
static int pingpongs = 10000;
static const char *run_id = "local";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct result { double mb_s, frames_s, p50_us, p99_us; } result_t;

/* ---- raw TLS: blocking sockets and SSL_write/SSL_read ---- */

static SSL_CTX *raw_ctx(bool server) {
    mk_secret_key_t sk;
    mk_secret_key_generate(&sk);
    SSL_CTX *ctx = mk_tls_ctx_new(&sk, NULL);  /* the library's context: same suites and certificates */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    (void)server;
    return ctx;
}

static bool ssl_read_full(SSL *s, void *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        int r = SSL_read(s, (char *)p + got, (int)(n - got));
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

static bool raw_read_frame(SSL *s, uint8_t *buf, size_t cap, size_t *len) {
    uint8_t h[4];
    if (!ssl_read_full(s, h, 4)) return false;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n > cap) return false;
    *len = n;
    return ssl_read_full(s, buf, n);
}

static bool raw_write_frame(SSL *s, uint8_t *buf, size_t n) {
    /* buf has 4 bytes of room before the payload */
    buf[-4] = (uint8_t)(n >> 24), buf[-3] = (uint8_t)(n >> 16), buf[-2] = (uint8_t)(n >> 8), buf[-1] = (uint8_t)n;
    size_t off = 0;
    while (off < n + 4) {  /* the library context allows partial writes */
        int w = SSL_write(s, buf - 4 + off, (int)(n + 4 - off));
        if (w <= 0) return false;
        off += (size_t)w;
    }
    return true;
}

static int listen_loopback(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* One raw-tls scenario. size 0 = ping-pong of 64 B. */
static result_t run_raw(size_t size) {
    result_t res = {0};
    uint16_t port;
    int lfd = listen_loopback(&port);
    int rpipe[2];
    if (pipe(rpipe) != 0) return res;
    pid_t pid = fork();
    size_t fsize = size ? size : 64;
    uint8_t *mem = malloc(fsize + 8), *buf = mem + 4;
    memset(mem, 0xab, fsize + 8);
    if (pid == 0) {  /* sender */
        close(lfd);
        SSL_CTX *ctx = raw_ctx(false);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) _exit(1);
        SSL *s = SSL_new(ctx);
        SSL_set_fd(s, fd);
        if (SSL_connect(s) != 1) _exit(1);
        if (size) {
            double t0 = now_s();
            while (now_s() - t0 < phase_s)
                for (int k = 0; k < 64; k++)
                    if (!raw_write_frame(s, buf, fsize)) _exit(1);
        } else {
            double *lat = malloc(sizeof(double) * (size_t)pingpongs);
            for (int i = 0; i < pingpongs; i++) {
                size_t n;
                double t0 = now_s();
                if (!raw_write_frame(s, buf, 64) || !raw_read_frame(s, buf, fsize, &n)) _exit(1);
                lat[i] = (now_s() - t0) * 1e6;
            }
            qsort(lat, (size_t)pingpongs, sizeof *lat, cmp_double);
            double pr[2] = {lat[pingpongs / 2], lat[pingpongs * 99 / 100]};
            if (write(rpipe[1], pr, sizeof pr) != sizeof pr) _exit(1);
        }
        SSL_shutdown(s);
        close(fd);
        _exit(0);
    }
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    SSL_CTX *ctx = raw_ctx(true);
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (SSL_accept(s) == 1) {
        size_t n;
        if (size) {
            double t0 = 0, bytes = 0, frames = 0;
            while (raw_read_frame(s, buf, fsize, &n)) {
                if (t0 == 0) t0 = now_s();
                bytes += (double)n;
                frames++;
            }
            double dt = now_s() - t0;
            res.mb_s = bytes / dt / 1e6;
            res.frames_s = frames / dt;
        } else {
            while (raw_read_frame(s, buf, fsize, &n) && raw_write_frame(s, buf, n)) {
            }
            double pr[2] = {0, 0};
            if (read(rpipe[0], pr, sizeof pr) == sizeof pr) res.p50_us = pr[0], res.p99_us = pr[1];
        }
    }
    SSL_free(s);
    SSL_CTX_free(ctx);
    close(fd);
    close(rpipe[0]);
    close(rpipe[1]);
    waitpid(pid, NULL, 0);
    free(mem);
    return res;
}

/* ---- libmosaik link ---- */

static mk_network_t *bench_net(void) {
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = "bench-link";
    cfg.bind[0] = "127.0.0.1:0";
    cfg.max_frame_size = 2u << 20;
    return mk_network_new(&cfg, NULL);
}

static result_t run_mosaik(size_t size) {
    result_t res = {0};
    int apipe[2], rpipe[2];
    if (pipe(apipe) != 0 || pipe(rpipe) != 0) return res;
    pid_t pid = fork();
    size_t fsize = size ? size : 64;
    uint8_t *buf = calloc(1, fsize);
    if (pid == 0) {  /* sender */
        mk_peer_addr_t to;
        if (read(apipe[0], &to, sizeof to) != sizeof to) _exit(1);
        mk_network_t *n = bench_net();
        mk_link_t *l = n ? mk_link_open(n, &to, ALPN, 0, 5000, NULL) : NULL;
        if (!l) _exit(1);
        if (size) {
            double t0 = now_s();
            while (now_s() - t0 < phase_s)
                for (int k = 0; k < 64; k++)
                    if (mk_link_send(l, buf, fsize, -1, NULL) != MK_OK) _exit(1);
            mk_link_close(l, MK_CLOSE_SUCCESS, NULL, 30000, NULL);
        } else {
            double *lat = malloc(sizeof(double) * (size_t)pingpongs);
            for (int i = 0; i < pingpongs; i++) {
                mk_frame_t f = MK_FRAME_INIT;
                double t0 = now_s();
                if (mk_link_send(l, buf, 64, -1, NULL) != MK_OK || mk_link_recv(l, &f, 5000, NULL) != MK_OK) _exit(1);
                mk_frame_free(&f);
                lat[i] = (now_s() - t0) * 1e6;
            }
            qsort(lat, (size_t)pingpongs, sizeof *lat, cmp_double);
            double pr[2] = {lat[pingpongs / 2], lat[pingpongs * 99 / 100]};
            if (write(rpipe[1], pr, sizeof pr) != sizeof pr) _exit(1);
            mk_link_close(l, MK_CLOSE_SUCCESS, NULL, 5000, NULL);
        }
        mk_link_free(l);
        mk_network_free(n);
        _exit(0);
    }
    mk_network_t *n = bench_net();
    mk_listener_t *lis = mk_network_listen(n, ALPN, 0, NULL);
    mk_peer_addr_t me;
    mk_network_addr(n, &me);
    if (write(apipe[1], &me, sizeof me) != sizeof me) return res;
    mk_link_t *l = mk_listener_accept(lis, 10000, NULL);
    if (l) {
        mk_frame_t f = MK_FRAME_INIT;
        if (size) {
            double t0 = 0, bytes = 0, frames = 0;
            while (mk_link_recv(l, &f, 30000, NULL) == MK_OK) {
                if (t0 == 0) t0 = now_s();
                bytes += (double)f.len;
                frames++;
                mk_frame_free(&f);
            }
            double dt = now_s() - t0;
            res.mb_s = bytes / dt / 1e6;
            res.frames_s = frames / dt;
        } else {
            while (mk_link_recv(l, &f, 30000, NULL) == MK_OK) {
                mk_link_send(l, f.data, f.len, -1, NULL);
                mk_frame_free(&f);
            }
            double pr[2] = {0, 0};
            if (read(rpipe[0], pr, sizeof pr) == sizeof pr) res.p50_us = pr[0], res.p99_us = pr[1];
        }
        mk_link_free(l);
    }
    waitpid(pid, NULL, 0);
    mk_listener_free(lis);
    mk_network_free(n);
    close(apipe[0]), close(apipe[1]), close(rpipe[0]), close(rpipe[1]);
    free(buf);
    return res;
}

static void row(const char *system, const char *scenario, size_t size, const result_t *r) {
    if (strcmp(scenario, "bulk") == 0)
        printf("{\"schema\":\"mosaik.bench/1\",\"run_id\":\"%s\",\"bench\":\"link\",\"system\":\"%s\",\"scenario\":\"%s\","
               "\"size_b\":%zu,\"rep\":\"median\",\"status\":\"%s\",\"mb_s\":%.1f,\"frames_s\":%.0f}\n",
               run_id, system, scenario, size, r->mb_s > 0 ? "ok" : "failed", r->mb_s, r->frames_s);
    else
        printf("{\"schema\":\"mosaik.bench/1\",\"run_id\":\"%s\",\"bench\":\"link\",\"system\":\"%s\",\"scenario\":\"%s\","
               "\"size_b\":64,\"rep\":\"median\",\"status\":\"%s\",\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
               run_id, system, scenario, r->p50_us > 0 ? "ok" : "failed", r->p50_us, r->p99_us);
}

static void ratio(const char *metric, size_t size, double num, double den, const char *goal, double goal_v, bool higher) {
    double v = den > 0 ? num / den : 0;
    bool met = higher ? v >= goal_v : v <= goal_v;
    printf("{\"schema\":\"mosaik.bench/1\",\"run_id\":\"%s\",\"bench\":\"link\",\"system\":\"ratio\",\"metric\":\"%s\","
           "\"size_b\":%zu,\"num\":\"libmosaik-link\",\"den\":\"raw-tls\",\"value\":%.3f,\"goal\":\"%s\",\"met\":%s}\n",
           run_id, metric, size, v, goal, met ? "true" : "false");
}

int main(int argc, char **argv) {
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = true;
        else if (!strcmp(argv[i], "--run-id") && i + 1 < argc) run_id = argv[++i];
        else {
            fprintf(stderr, "usage: bench_link [--smoke] [--run-id ID]\n");
            return 2;
        }
    }
    if (smoke) phase_s = 0.3, pingpongs = 500;
    signal(SIGPIPE, SIG_IGN);
    printf("{\"type\":\"env\",\"schema\":\"mosaik.bench/1\",\"run_id\":\"%s\",\"bench\":\"link\",\"openssl\":\"%s\","
           "\"nproc\":%ld,\"smoke\":%s}\n",
           run_id, OpenSSL_version(OPENSSL_VERSION), sysconf(_SC_NPROCESSORS_ONLN), smoke ? "true" : "false");
    fflush(stdout);
    static const size_t sizes[] = {64, 1024, 16384, 65536, 1u << 20};
    int failed = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (smoke && sizes[i] != 64 && sizes[i] != 65536) continue;
        result_t m = run_mosaik(sizes[i]);
        result_t r = run_raw(sizes[i]);
        row("libmosaik-link", "bulk", sizes[i], &m);
        row("raw-tls", "bulk", sizes[i], &r);
        if (m.mb_s <= 0 || r.mb_s <= 0) failed++;
        if (sizes[i] == 65536) ratio("mb_s", sizes[i], m.mb_s, r.mb_s, ">= 0.9", 0.9, true);
        else if (sizes[i] == 64) ratio("frames_s", sizes[i], m.frames_s, r.frames_s, ">= 0.5", 0.5, true);
        else ratio("mb_s", sizes[i], m.mb_s, r.mb_s, "report", 0, true);
        fflush(stdout);
    }
    result_t m = run_mosaik(0), r = run_raw(0);
    row("libmosaik-link", "pingpong", 64, &m);
    row("raw-tls", "pingpong", 64, &r);
    if (m.p50_us <= 0 || r.p50_us <= 0) failed++;
    ratio("p50_us", 64, m.p50_us, r.p50_us, "<= raw + 20 us", (r.p50_us + 20) / (r.p50_us > 0 ? r.p50_us : 1), false);
    ratio("p99_us", 64, m.p99_us, r.p99_us, "<= 2.0", 2.0, false);
    return failed ? 1 : 0;
}
