/* bench/bench_streams.c — streams side by side with ZeroMQ PUB/SUB and core NATS (spec 30 §12, issue 5):
 * the producer runs in this process, the consumers (one connection each; libmosaik: one network each)
 * in a forked child, nats-server in its own process. Throughput: 1→1 and 1→8 with 64 B and 4 KiB
 * datums sent as fast as one send call per datum allows; latency: 1→1 at 10 000 datums/s with the
 * send time in each datum, one-way latency from CLOCK_MONOTONIC. One JSON line per row, then ratio
 * lines (libmosaik / ZeroMQ datums/s; libmosaik / NATS p50 and p99). Informative rows: libmosaik with
 * send_many (throughput) and with callback-mode consumers (latency). cpu_us = CPU time of the producer
 * and consumer processes (and nats-server's) per datum received. --smoke runs 1 000 datums per
 * row to check the harness; --row K and --system NAME narrow the run (for profiling); a system whose
 * library or server is missing prints "skipped". */
#include <mosaik/mosaik.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#ifdef HAVE_ZMQ
#include <zmq.h>
#endif
#ifdef HAVE_NATS
#include <nats/nats.h>
#endif

#define MAXC 8

typedef struct row {
    const char *system, *scenario;
    size_t size;
    int consumers;
    long sent;
    double secs;            /* measured by the child: first to last receive */
    long received;          /* all consumers */
    double p50, p99, p999, max;  /* µs, latency rows */
    double cpu_s;           /* producer + consumer processes (+ nats-server), user + system */
    int variant;            /* libmosaik: 0 send per datum, 1 send_many, 2 callback-mode consumers */
} row_t;

static bool smoke;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what the child measures, sent back through a pipe ---- */

typedef struct report {
    long received;
    double first, last;
    double p50, p99, p999, max;
} report_t;

typedef struct lat {
    double *v;
    size_t n, cap;
    pthread_mutex_t mu;
} lat_t;

static void lat_add(lat_t *l, double us) {
    pthread_mutex_lock(&l->mu);
    if (l->n < l->cap) l->v[l->n++] = us;
    pthread_mutex_unlock(&l->mu);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void lat_fill(lat_t *l, report_t *r) {
    if (!l->n) return;
    qsort(l->v, l->n, sizeof *l->v, cmp_d);
    r->p50 = l->v[l->n / 2];
    r->p99 = l->v[(size_t)((double)l->n * 0.99)];
    r->p999 = l->v[(size_t)((double)l->n * 0.999)];
    r->max = l->v[l->n - 1];
}

/* Every datum starts with: u64 seq, f64 send time, u8 measured (after warm-up). */
typedef struct __attribute__((packed)) hdr {
    uint64_t seq;
    double t;
    uint8_t measured;
} hdr_t;

typedef struct counter {
    _Atomic long got;
    _Atomic double first, last;
    lat_t *lat;
    long expect;
} counter_t;

static void on_receive(counter_t *c, const void *p, size_t n) {
    double now = mono();
    long k = atomic_fetch_add(&c->got, 1);
    if (k == 0) c->first = now;
    c->last = now;
    if (c->lat && n >= sizeof(hdr_t)) {
        hdr_t h;
        memcpy(&h, p, sizeof h);
        if (h.measured) lat_add(c->lat, (now - h.t) * 1e6);
    }
}

/* ---- the producer's pacing ---- */

typedef int (*send_fn)(void *ctx, const void *p, size_t n);

static long produce(send_fn send, void *ctx, size_t size, long count, double rate, double warmup) {
    uint8_t *buf = calloc(1, size < sizeof(hdr_t) ? sizeof(hdr_t) : size);
    double t0 = mono();
    long sent = 0;
    for (long i = 0; i < count; i++) {
        if (rate > 0) {
            double due = t0 + (double)i / rate;
            while (mono() < due) {}
        }
        hdr_t h = {(uint64_t)i, mono(), rate > 0 && mono() - t0 >= warmup};
        memcpy(buf, &h, sizeof h);
        if (send(ctx, buf, size) == 0) sent++;
    }
    free(buf);
    return sent;
}

/* ---- helpers for both sides ---- */

static void send_str(int fd, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    if (write(fd, &n, 4) != 4 || write(fd, s, n) != (ssize_t)n) _exit(2);
}

static void recv_str(int fd, char *out, size_t cap) {
    uint32_t n = 0;
    if (read(fd, &n, 4) != 4 || n >= cap || read(fd, out, n) != (ssize_t)n) _exit(2);
    out[n] = 0;
}

static void consumer_setup(counter_t *cnt, lat_t *lat, const row_t *r, long count, double rate) {
    memset(cnt, 0, sizeof *cnt);
    memset(lat, 0, sizeof *lat);
    cnt->expect = count * r->consumers;
    lat->cap = (size_t)count;
    lat->v = rate > 0 ? calloc((size_t)count, sizeof(double)) : NULL;
    pthread_mutex_init(&lat->mu, NULL);
    if (rate > 0) cnt->lat = lat;
}

static void consumer_report(int fd, counter_t *cnt, lat_t *lat) {
    report_t rep = {atomic_load(&cnt->got), cnt->first, cnt->last, 0, 0, 0, 0};
    lat_fill(lat, &rep);
    if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(2);
}

static void producer_collect(row_t *r, int fd) {
    report_t rep;
    if (read(fd, &rep, sizeof rep) == (ssize_t)sizeof rep) {
        r->received = rep.received;
        r->secs = rep.last - rep.first;
        r->p50 = rep.p50, r->p99 = rep.p99, r->p999 = rep.p999, r->max = rep.max;
    }
}

/* ---- libmosaik ---- */

static int mk_send_fn(void *ctx, const void *p, size_t n) {
    mk_error_t e;
    return mk_producer_send(ctx, p, n, 10000, &e) == MK_OK ? 0 : -1;
}

typedef struct mk_recv_arg {
    mk_consumer_t *c;
    counter_t *cnt;
} mk_recv_arg_t;

static void *mk_recv_main(void *arg) {
    mk_recv_arg_t *a = arg;
    for (;;) {
        mk_datum_t d = MK_DATUM_INIT;
        if (mk_consumer_recv(a->c, &d, 2000, NULL) != MK_OK) break;
        on_receive(a->cnt, d.data, d.len);
        mk_datum_free(&d);
        if (atomic_load(&a->cnt->got) >= a->cnt->expect) break;
    }
    return NULL;
}

/* The send_many variant: runs of 64 datums per call. */
typedef struct many_ctx {
    mk_producer_t *p;
    uint8_t *buf;           /* 64 copies */
    mk_send_item_t items[64];
    size_t n, size;
    long sent;
} many_ctx_t;

static void many_flush(many_ctx_t *m) {
    size_t acc = 0;
    mk_error_t e;
    mk_producer_send_many(m->p, m->items, m->n, &acc, 10000, &e);
    m->sent += (long)acc;
    m->n = 0;
}

static int many_send_fn(void *ctx, const void *p, size_t n) {
    many_ctx_t *m = ctx;
    memcpy(m->buf + m->n * m->size, p, n);
    m->items[m->n] = (mk_send_item_t){m->buf + m->n * m->size, n};
    if (++m->n == 64) many_flush(m);
    return 1;  /* counted by many_flush */
}

static mk_network_config_t mk_cfg(void) {
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = "bench-streams";
    cfg.bind[0] = "127.0.0.1:0";
    cfg.discovery.no_auto_bootstrap = true;
    return cfg;
}

static void mosaik_producer(row_t *r, long count, double rate, double warmup, int fd) {
    mk_error_t e;
    mk_network_config_t cfg = mk_cfg();
    mk_network_t *pn = mk_network_new(&cfg, &e);
    char addr[MK_ADDR_STR_MAX];
    mk_network_addr_str(pn, addr, sizeof addr);
    mk_producer_config_t pc = {.disconnect_lagging = MK_TOGGLE_OFF, .buffer_size = 4096};
    mk_producer_t *p = mk_producer_open(pn, "bench", &pc, &e);
    send_str(fd, addr);
    char ok;
    if (read(fd, &ok, 1) != 1) return;
    mk_producer_wait(p, MK_WHEN_MIN((uint32_t)r->consumers), 20000, &e);
    if (r->variant == 1) {
        many_ctx_t m = {.p = p, .buf = malloc(64 * r->size), .size = r->size};
        produce(many_send_fn, &m, r->size, count, rate, warmup);
        if (m.n) many_flush(&m);
        r->sent = m.sent;
        free(m.buf);
    } else {
        r->sent = produce(mk_send_fn, p, r->size, count, rate, warmup);
    }
    producer_collect(r, fd);
    mk_producer_free(p);
    mk_network_free(pn);
}

static void on_datum_cb(void *ctx, const mk_datum_t *d) { on_receive(ctx, d->data, d->len); }

static void mosaik_consumers(const row_t *r, long count, double rate, int fd) {
    char addr[MK_ADDR_STR_MAX];
    recv_str(fd, addr, sizeof addr);
    mk_error_t e;
    const char *boot[] = {addr, NULL};
    mk_network_config_t cc = mk_cfg();
    cc.discovery.bootstrap = boot;
    mk_network_t *nets[MAXC];
    mk_consumer_t *cons[MAXC];
    counter_t cnt;
    lat_t lat;
    consumer_setup(&cnt, &lat, r, count, rate);
    mk_consumer_config_t ccfg = {.queue_datums = 65536, .queue_bytes = 512u << 20};
    if (r->variant == 2) {
        ccfg.on_datum = on_datum_cb;
        ccfg.on_datum_ctx = &cnt;
    }
    for (int i = 0; i < r->consumers; i++) {
        nets[i] = mk_network_new(&cc, &e);
        cons[i] = mk_consumer_open(nets[i], "bench", &ccfg, &e);
        mk_consumer_wait(cons[i], MK_WHEN_SUBSCRIBED, 20000, &e);
    }
    char ok = 1;
    if (write(fd, &ok, 1) != 1) _exit(2);
    pthread_t th[MAXC];
    mk_recv_arg_t args[MAXC];
    if (r->variant == 2) {  /* the loop threads count; wait until all came or the stream went quiet */
        long last = -1;
        while (atomic_load(&cnt.got) < cnt.expect && atomic_load(&cnt.got) != last) {
            last = atomic_load(&cnt.got);
            sleep_ms(2000);
        }
    } else {
        for (int i = 0; i < r->consumers; i++) {
            args[i] = (mk_recv_arg_t){cons[i], &cnt};
            pthread_create(&th[i], NULL, mk_recv_main, &args[i]);
        }
        for (int i = 0; i < r->consumers; i++) pthread_join(th[i], NULL);
    }
    consumer_report(fd, &cnt, &lat);
    for (int i = 0; i < r->consumers; i++) {
        mk_consumer_free(cons[i]);
        mk_network_free(nets[i]);
    }
}

/* ---- ZeroMQ ---- */

#ifdef HAVE_ZMQ
static int zmq_send_fn(void *ctx, const void *p, size_t n) { return zmq_send(ctx, p, n, 0) == (int)n ? 0 : -1; }

typedef struct zarg {
    void *sock;
    counter_t *cnt;
} zarg_t;

static void *zmq_recv_main(void *arg) {
    zarg_t *a = arg;
    static _Thread_local uint8_t buf[8192];
    for (;;) {
        int n = zmq_recv(a->sock, buf, sizeof buf, 0);
        if (n < 0) break;
        on_receive(a->cnt, buf, (size_t)n);
        if (atomic_load(&a->cnt->got) >= a->cnt->expect) break;
    }
    return NULL;
}

static void zmq_producer(row_t *r, long count, double rate, double warmup, int fd) {
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    zmq_bind(pub, "tcp://127.0.0.1:*");
    char ep[128];
    size_t len = sizeof ep;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep, &len);
    send_str(fd, ep);
    char ok;
    if (read(fd, &ok, 1) != 1) return;
    r->sent = produce(zmq_send_fn, pub, r->size, count, rate, warmup);
    producer_collect(r, fd);
    zmq_close(pub);
    zmq_ctx_term(ctx);
}

static void zmq_consumers(const row_t *r, long count, double rate, int fd) {
    char ep[128];
    recv_str(fd, ep, sizeof ep);
    void *cctx = zmq_ctx_new();
    counter_t cnt;
    lat_t lat;
    consumer_setup(&cnt, &lat, r, count, rate);
    zarg_t args[MAXC];
    pthread_t th[MAXC];
    int tmo = 2000;
    for (int i = 0; i < r->consumers; i++) {
        void *s = zmq_socket(cctx, ZMQ_SUB);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
        zmq_connect(s, ep);
        args[i] = (zarg_t){s, &cnt};
    }
    sleep_ms(500);  /* the slow-joiner window */
    char ok = 1;
    if (write(fd, &ok, 1) != 1) _exit(2);
    for (int i = 0; i < r->consumers; i++) pthread_create(&th[i], NULL, zmq_recv_main, &args[i]);
    for (int i = 0; i < r->consumers; i++) pthread_join(th[i], NULL);
    consumer_report(fd, &cnt, &lat);
}
#endif

/* ---- NATS ---- */

#ifdef HAVE_NATS
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) a.sin_port = 0;
    close(fd);
    return ntohs(a.sin_port);
}

static int nats_send_fn(void *ctx, const void *p, size_t n) {
    return natsConnection_Publish(ctx, "bench", p, (int)n) == NATS_OK ? 0 : -1;
}

typedef struct narg {
    natsSubscription *sub;
    counter_t *cnt;
} narg_t;

static void *nats_recv_main(void *arg) {
    narg_t *a = arg;
    for (;;) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, a->sub, 2000) != NATS_OK) break;
        on_receive(a->cnt, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
        natsMsg_Destroy(m);
        if (atomic_load(&a->cnt->got) >= a->cnt->expect) break;
    }
    return NULL;
}

static void nats_producer(row_t *r, long count, double rate, double warmup, int fd, const char *url) {
    natsConnection *pubc = NULL;
    if (natsConnection_ConnectTo(&pubc, url) != NATS_OK) return;
    send_str(fd, url);
    char ok;
    if (read(fd, &ok, 1) != 1) return;
    r->sent = produce(nats_send_fn, pubc, r->size, count, rate, warmup);
    natsConnection_Flush(pubc);
    producer_collect(r, fd);
    natsConnection_Destroy(pubc);
}

static void nats_consumers(const row_t *r, long count, double rate, int fd) {
    char url[64];
    recv_str(fd, url, sizeof url);
    counter_t cnt;
    lat_t lat;
    consumer_setup(&cnt, &lat, r, count, rate);
    narg_t args[MAXC];
    pthread_t th[MAXC];
    natsConnection *cons[MAXC];
    for (int i = 0; i < r->consumers; i++) {
        natsConnection_ConnectTo(&cons[i], url);
        natsSubscription *sub = NULL;
        natsConnection_SubscribeSync(&sub, cons[i], "bench");
        natsSubscription_SetPendingLimits(sub, -1, -1);  /* lifted, as the bench requires */
        natsConnection_Flush(cons[i]);
        args[i] = (narg_t){sub, &cnt};
    }
    char ok = 1;
    if (write(fd, &ok, 1) != 1) _exit(2);
    for (int i = 0; i < r->consumers; i++) pthread_create(&th[i], NULL, nats_recv_main, &args[i]);
    for (int i = 0; i < r->consumers; i++) pthread_join(th[i], NULL);
    consumer_report(fd, &cnt, &lat);
}
#endif

/* One row in a fresh process: the consumers are forked before anything creates a thread. */
static double cpu_of(const struct rusage *ru) {
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
           (double)ru->ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of a process from /proc, 0 if unreadable. */
static double proc_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void run_row(row_t *r, int system, long count, double rate, double warmup, const char *nats_url) {
    int res[2], sv[2];
    if (pipe(res) != 0) return;
    pid_t runner = fork();
    if (runner == 0) {
        close(res[0]);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) _exit(2);
        pid_t cons = fork();
        if (cons == 0) {
            close(sv[0]);
            if (system == 0) mosaik_consumers(r, count, rate, sv[1]);
#ifdef HAVE_ZMQ
            if (system == 1) zmq_consumers(r, count, rate, sv[1]);
#endif
#ifdef HAVE_NATS
            if (system == 2) nats_consumers(r, count, rate, sv[1]);
#endif
            _exit(0);
        }
        close(sv[1]);
        if (system == 0) mosaik_producer(r, count, rate, warmup, sv[0]);
#ifdef HAVE_ZMQ
        if (system == 1) zmq_producer(r, count, rate, warmup, sv[0]);
#endif
#ifdef HAVE_NATS
        if (system == 2) nats_producer(r, count, rate, warmup, sv[0], nats_url);
#endif
        struct rusage cru, sru;
        if (wait4(cons, NULL, 0, &cru) < 0) memset(&cru, 0, sizeof cru);
        getrusage(RUSAGE_SELF, &sru);
        r->cpu_s = cpu_of(&cru) + cpu_of(&sru);
        if (write(res[1], r, sizeof *r) != (ssize_t)sizeof *r) _exit(2);
        _exit(0);
    }
    close(res[1]);
    row_t got;
    if (read(res[0], &got, sizeof got) == (ssize_t)sizeof got) {
        r->sent = got.sent, r->secs = got.secs, r->received = got.received;
        r->p50 = got.p50, r->p99 = got.p99, r->p999 = got.p999, r->max = got.max;
        r->cpu_s = got.cpu_s;
    }
    close(res[0]);
    waitpid(runner, NULL, 0);
    (void)nats_url;
}

/* ---- driver ---- */

static void print_row(const row_t *r, bool skipped) {
    if (skipped) {
        printf("{\"schema\":\"mosaik.bench/1\",\"bench\":\"streams\",\"system\":\"%s\",\"scenario\":\"%s\",\"size\":%zu,"
               "\"consumers\":%d,\"skipped\":true}\n", r->system, r->scenario, r->size, r->consumers);
        return;
    }
    double per = r->secs > 0 ? (double)r->received / r->consumers / r->secs : 0;
    double loss = r->sent ? 100.0 * (1.0 - (double)r->received / ((double)r->sent * r->consumers)) : 100;
    printf("{\"schema\":\"mosaik.bench/1\",\"bench\":\"streams\",\"system\":\"%s\",\"scenario\":\"%s\",\"size\":%zu,"
           "\"consumers\":%d,\"datums_s\":%.0f,\"mb_s\":%.2f,\"loss_pct\":%.2f,\"cpu_us\":%.2f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f%s}\n",
           r->system, r->scenario, r->size, r->consumers, per, per * (double)r->size / 1e6, loss < 0 ? 0 : loss,
           r->received ? r->cpu_s * 1e6 / (double)r->received : 0, r->p50, r->p99, r->p999, r->max,
           loss > 1 ? ",\"flag\":\"loss > 1%\"" : "");
    fflush(stdout);
}

int main(int argc, char **argv) {
    int only_row = -1;          /* --row K runs one row of the plan (0-5), for profiling */
    const char *only_sys = NULL; /* --system NAME runs one system */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = true;
        else if (!strcmp(argv[i], "--row") && i + 1 < argc) only_row = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--system") && i + 1 < argc) only_sys = argv[++i];
    }
    setenv("MK_DHT", "off", 0);
    signal(SIGPIPE, SIG_IGN);
    char nats_url[64] = "";
    pid_t nats_pid = -1;
#ifdef HAVE_NATS
    int port = free_port();
    snprintf(nats_url, sizeof nats_url, "nats://127.0.0.1:%d", port);
    nats_pid = fork();
    if (nats_pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, (char *)NULL);
        _exit(127);
    }
    /* probe the server from a child: the NATS library starts threads, and the driver forks later */
    bool nats_up = false;
    for (int i = 0; i < 50 && !nats_up; i++) {
        pid_t probe = fork();
        if (probe == 0) {
            natsConnection *c = NULL;
            _exit(natsConnection_ConnectTo(&c, nats_url) == NATS_OK ? 0 : 1);
        }
        int st = 1;
        waitpid(probe, &st, 0);
        nats_up = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!nats_up) sleep_ms(100);
    }
#else
    bool nats_up = false;
#endif
    static const struct { const char *scenario; size_t size; int consumers; } plan[] = {
        {"throughput", 64, 1}, {"throughput", 4096, 1}, {"throughput", 64, 8}, {"throughput", 4096, 8},
        {"latency", 64, 1}, {"latency", 4096, 1},
    };
    /* 3 and 4 are informative libmosaik variants: send_many for throughput, callback mode for latency */
    static const char *systems[] = {"libmosaik", "zeromq", "nats", "libmosaik-send_many", "libmosaik-callback"};
    row_t rows[6][5];
    memset(rows, 0, sizeof rows);
    for (size_t k = 0; k < sizeof plan / sizeof plan[0]; k++) {
        bool lat = !strcmp(plan[k].scenario, "latency");
        long count = smoke ? 1000 : lat ? 120000 : plan[k].size == 64 ? 2000000 : 200000;
        double rate = lat ? (smoke ? 20000 : 10000) : 0, warmup = lat ? (smoke ? 0.01 : 2.0) : 0;
        if (plan[k].consumers == 8 && !smoke) count /= 4;  /* the 1→8 rows are CPU-bound on 2 cores */
        for (int s = 0; s < 5; s++) {
            if ((only_row >= 0 && (size_t)only_row != k) || (only_sys && strcmp(only_sys, systems[s]))) continue;
            if ((s == 3 && lat) || (s == 4 && !lat)) continue;
            row_t *r = &rows[k][s];
            *r = (row_t){.system = systems[s], .scenario = plan[k].scenario, .size = plan[k].size, .consumers = plan[k].consumers,
                         .variant = s == 3 ? 1 : s == 4 ? 2 : 0};
            bool skipped = true;
            if (s == 0 || s >= 3) skipped = false;
#ifdef HAVE_ZMQ
            if (s == 1) skipped = false;
#endif
            if (s == 2) skipped = !nats_up;
            double nats0 = s == 2 && nats_pid > 0 ? proc_cpu(nats_pid) : 0;
            if (!skipped) run_row(r, s >= 3 ? 0 : s, count, rate, warmup, nats_url);
            if (s == 2 && nats_pid > 0) r->cpu_s += proc_cpu(nats_pid) - nats0;  /* the broker works too */
            print_row(r, skipped);
        }
    }
    /* ratios and goals */
    for (size_t k = 0; k < sizeof plan / sizeof plan[0]; k++) {
        row_t *m = &rows[k][0], *z = &rows[k][1], *n = &rows[k][2];
        if (!strcmp(plan[k].scenario, "throughput") && z->secs > 0 && m->secs > 0) {
            double rm = (double)m->received / m->consumers / m->secs, rz = (double)z->received / z->consumers / z->secs;
            printf("{\"bench\":\"streams\",\"ratio\":\"libmosaik/zeromq datums_s\",\"size\":%zu,\"consumers\":%d,\"value\":%.2f,"
                   "\"goal\":\">= 1.0\",\"met\":%s}\n", plan[k].size, plan[k].consumers, rm / rz, rm >= rz ? "true" : "false");
        }
        if (!strcmp(plan[k].scenario, "latency") && n->p50 > 0 && m->p50 > 0)
            printf("{\"bench\":\"streams\",\"ratio\":\"libmosaik/nats latency\",\"size\":%zu,\"p50\":%.2f,\"p99\":%.2f,"
                   "\"goal\":\"p50 and p99 below NATS's\",\"met\":%s}\n", plan[k].size, m->p50 / n->p50, m->p99 / n->p99,
                   m->p50 < n->p50 && m->p99 < n->p99 ? "true" : "false");
    }
    if (nats_pid > 0) {
        kill(nats_pid, SIGTERM);
        waitpid(nats_pid, NULL, 0);
    }
    (void)errno;
    return 0;
}
