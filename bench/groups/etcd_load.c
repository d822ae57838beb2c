/* bench/groups/etcd_load.c — the libevent put client of bench_groups (see etcd_load.h): connection
 * management, request formatting, incremental HTTP/1.1 response parsing (Content-Length or chunked),
 * closed- and open-loop pacing, and the latency record of the measured window. */
#include "etcd_load.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

enum { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
enum { RX_HEAD, RX_BODY, RX_CHUNK_SIZE, RX_CHUNK_DATA, RX_TRAILER };

#define MAX_REQ 1024

typedef struct load load_t;

typedef struct conn {
    load_t *L;
    int idx, port;
    struct bufferevent *bev;
    bool up;                        /* connected */
    bool busy;                      /* a request is in flight */
    bool idle;                      /* open loop: parked on the idle stack */
    double t_start;                 /* latency origin of the request in flight */
    int rx;                         /* parser state */
    size_t need;                    /* body or chunk bytes still expected */
    int status;
    bool saw_header;                /* the body holds "header" (etcd's response header object) */
    char req[MAX_REQ];
    size_t req_len, key_off;        /* the base64 key is patched in place at key_off */
} conn_t;

struct load {
    const load_params_t *p;
    load_result_t *r;
    struct event_base *base;
    conn_t *c;
    int n_up, phase;
    long outstanding;
    uint64_t counter;               /* keys: one fresh key per put */
    double t0, t_meas, t_end;
    double cpu0;
    struct event *phase_ev, *tick_ev;
    /* latency record of the measured window (µs) */
    double *lat;
    size_t n_lat, cap_lat;
    /* open loop */
    double interval, next_due;
    int *idle;                      /* stack of idle connection indexes */
    int n_idle;
    double *queue;                  /* ring of scheduled arrival times waiting for a connection */
    size_t q_head, q_len, q_cap;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *state, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = splitmix64(state);
        size_t take = n - i < 8 ? n - i : 8;
        memcpy(out + i, &v, take);
    }
}

static size_t b64_len(size_t n) { return 4 * ((n + 2) / 3); }

/* ---- requests ---- */

/* The request text of a connection, with a placeholder key that send_put overwrites. */
static void build_request(load_t *L, conn_t *c) {
    const load_params_t *p = L->p;
    unsigned char val[256], keybuf[64];
    char val64[400], key64[100];
    uint64_t s = p->seed ^ ((uint64_t)c->idx << 32);
    fill_random(&s, val, p->value_size);
    memset(keybuf, 0, sizeof keybuf);
    EVP_EncodeBlock((unsigned char *)val64, val, (int)p->value_size);
    EVP_EncodeBlock((unsigned char *)key64, keybuf, (int)p->key_size);
    char body[600];
    int bl = snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", key64, val64);
    int rl = snprintf(c->req, sizeof c->req,
                      "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n%s",
                      c->port, bl, body);
    c->req_len = (size_t)rl;
    c->key_off = (size_t)(strstr(c->req, "{\"key\":\"") - c->req) + strlen("{\"key\":\"");
}

static void send_put(conn_t *c, double t_start) {
    load_t *L = c->L;
    unsigned char key[64];
    char key64[100];
    uint64_t s = L->p->seed + 0x5bd1e995ULL * ++L->counter;
    fill_random(&s, key, L->p->key_size);
    EVP_EncodeBlock((unsigned char *)key64, key, (int)L->p->key_size);
    memcpy(c->req + c->key_off, key64, b64_len(L->p->key_size));
    c->busy = true;
    c->t_start = t_start;
    c->rx = RX_HEAD;
    c->saw_header = false;
    L->outstanding++;
    bufferevent_write(c->bev, c->req, c->req_len);
}

/* ---- open-loop queue ---- */

static void queue_push(load_t *L, double t) {
    if (L->q_len == L->q_cap) {
        if (L->phase == PH_MEASURE) L->r->dropped++;
        return;
    }
    L->queue[(L->q_head + L->q_len) % L->q_cap] = t;
    L->q_len++;
}

static double queue_pop(load_t *L) {
    double t = L->queue[L->q_head];
    L->q_head = (L->q_head + 1) % L->q_cap;
    L->q_len--;
    return t;
}

/* A connection became free (connected or answered): give it work, or park it. */
static void conn_ready(conn_t *c) {
    load_t *L = c->L;
    if (L->phase != PH_WARMUP && L->phase != PH_MEASURE) return;
    if (L->p->rate <= 0) send_put(c, now_s());
    else if (L->q_len) send_put(c, queue_pop(L));
    else if (!c->idle) {
        c->idle = true;
        L->idle[L->n_idle++] = c->idx;
    }
}

static conn_t *idle_pop(load_t *L) {
    conn_t *c = &L->c[L->idle[--L->n_idle]];
    c->idle = false;
    return c;
}

static void idle_remove(load_t *L, conn_t *c) {  /* a parked connection broke */
    for (int i = 0; i < L->n_idle; i++)
        if (L->idle[i] == c->idx) {
            L->idle[i] = L->idle[--L->n_idle];
            break;
        }
    c->idle = false;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    load_t *L = arg;
    double now = now_s();
    while (L->next_due <= now && (L->phase == PH_WARMUP || L->phase == PH_MEASURE)) {
        if (L->n_idle) send_put(idle_pop(L), L->next_due);
        else queue_push(L, L->next_due);
        L->next_due += L->interval;
    }
    if (L->phase == PH_WARMUP || L->phase == PH_MEASURE) {
        double d = L->next_due - now_s();
        if (d < 0) d = 0;
        struct timeval tv = {(time_t)d, (suseconds_t)((d - (double)(time_t)d) * 1e6)};
        evtimer_add(L->tick_ev, &tv);
    }
}

/* ---- phases ---- */

static void arm_phase(load_t *L, double secs) {
    struct timeval tv = {(time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};
    evtimer_add(L->phase_ev, &tv);
}

static void phase_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    load_t *L = arg;
    switch (L->phase) {
    case PH_CONNECT:  /* the connect deadline passed */
        snprintf(L->r->error, sizeof L->r->error, "only %d of %d connections to 127.0.0.1 came up", L->n_up,
                 L->p->conns);
        L->phase = PH_DONE;
        event_base_loopbreak(L->base);
        break;
    case PH_WARMUP:
        L->phase = PH_MEASURE;
        if (L->p->on_window) L->p->on_window(L->p->ctx, true);
        L->t_meas = now_s();
        L->cpu0 = thread_cpu_s();
        arm_phase(L, L->p->measure_s);
        break;
    case PH_MEASURE:
        L->t_end = now_s();
        L->r->client_cpu_s = thread_cpu_s() - L->cpu0;
        if (L->p->on_window) L->p->on_window(L->p->ctx, false);
        L->phase = PH_DRAIN;
        if (L->outstanding == 0) {
            L->phase = PH_DONE;
            event_base_loopbreak(L->base);
        } else {
            arm_phase(L, L->p->drain_s);
        }
        break;
    default:  /* the drain deadline passed */
        L->phase = PH_DONE;
        event_base_loopbreak(L->base);
        break;
    }
}

static void start_load(load_t *L) {
    L->phase = PH_WARMUP;
    L->t0 = now_s();
    evtimer_del(L->phase_ev);
    arm_phase(L, L->p->warmup_s);
    if (L->p->rate > 0) {
        L->next_due = L->t0;
        for (int i = L->p->conns - 1; i >= 0; i--) conn_ready(&L->c[i]);  /* all parked */
        tick_cb(-1, 0, L);
    } else {
        for (int i = 0; i < L->p->conns; i++) conn_ready(&L->c[i]);
    }
}

/* ---- responses ---- */

static void record(load_t *L, conn_t *c, bool ok) {
    double now = now_s();
    L->outstanding--;
    c->busy = false;
    if (L->phase == PH_MEASURE) {
        if (!ok) L->r->errors++;
        else {
            L->r->completed++;
            if (L->n_lat == L->cap_lat && L->cap_lat < (size_t)200000000) {
                size_t cap = L->cap_lat ? L->cap_lat * 2 : 1 << 16;
                double *v = realloc(L->lat, cap * sizeof *v);
                if (v) L->lat = v, L->cap_lat = cap;
            }
            if (L->n_lat < L->cap_lat) L->lat[L->n_lat++] = (now - c->t_start) * 1e6;
        }
    }
    if (L->phase == PH_DRAIN && L->outstanding == 0) {
        L->phase = PH_DONE;
        event_base_loopbreak(L->base);
    }
}

static void conn_open(conn_t *c);

static void reconnect_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    conn_t *c = arg;
    if (c->L->phase <= PH_MEASURE) conn_open(c);
}

/* Tries the connection again in 20 ms, until the connect deadline or the end of the window. */
static void retry_later(conn_t *c) {
    load_t *L = c->L;
    if (L->phase > PH_MEASURE) return;
    L->r->reconnects++;
    struct timeval tv = {0, 20000};
    event_base_once(L->base, -1, EV_TIMEOUT, reconnect_cb, c, &tv);
}

static void conn_broken(conn_t *c) {
    load_t *L = c->L;
    if (c->busy) record(L, c, false);
    if (c->idle) idle_remove(L, c);
    if (c->up) L->n_up--;
    c->up = false;
    bufferevent_free(c->bev);
    c->bev = NULL;
    retry_later(c);
}

/* Parses what arrived; returns false when the connection must be dropped. */
static bool parse(conn_t *c, struct evbuffer *in) {
    for (;;) {
        switch (c->rx) {
        case RX_HEAD: {
            struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (end.pos < 0) return evbuffer_get_length(in) < 16384;
            size_t hl = (size_t)end.pos + 4;
            char h[4096];
            size_t take = hl < sizeof h - 1 ? hl : sizeof h - 1;
            evbuffer_copyout(in, h, take);
            h[take] = 0;
            evbuffer_drain(in, hl);
            if (!c->busy || sscanf(h, "HTTP/1.%*d %d", &c->status) != 1) return false;
            bool chunked = false;
            long clen = -1;
            for (char *l = strstr(h, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
                if (!strncasecmp(l + 2, "Content-Length:", 15)) clen = strtol(l + 17, NULL, 10);
                else if (!strncasecmp(l + 2, "Transfer-Encoding:", 18) && strstr(l + 2, "chunked")) chunked = true;
            }
            if (chunked) c->rx = RX_CHUNK_SIZE;
            else if (clen >= 0) c->rx = RX_BODY, c->need = (size_t)clen;
            else return false;  /* a keep-alive response always says how long it is */
            break;
        }
        case RX_BODY:
        case RX_CHUNK_DATA: {
            size_t want = c->need + (c->rx == RX_CHUNK_DATA ? 2 : 0);
            if (evbuffer_get_length(in) < want) return true;
            const unsigned char *b = evbuffer_pullup(in, (ssize_t)c->need);
            if (c->need && b && memmem(b, c->need, "\"header\"", 8)) c->saw_header = true;
            evbuffer_drain(in, want);
            if (c->rx == RX_CHUNK_DATA) {
                c->rx = RX_CHUNK_SIZE;
                break;
            }
            record(c->L, c, c->status == 200 && c->saw_header);
            c->rx = RX_HEAD;
            conn_ready(c);
            break;
        }
        case RX_CHUNK_SIZE: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line) return evbuffer_get_length(in) < 1024;
            c->need = (size_t)strtoul(line, NULL, 16);
            free(line);
            c->rx = c->need ? RX_CHUNK_DATA : RX_TRAILER;
            break;
        }
        case RX_TRAILER: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line) return evbuffer_get_length(in) < 4096;
            free(line);
            if (n == 0) {
                record(c->L, c, c->status == 200 && c->saw_header);
                c->rx = RX_HEAD;
                conn_ready(c);
            }
            break;
        }
        }
        if (c->rx == RX_HEAD && evbuffer_get_length(in) == 0) return true;
    }
}

static void read_cb(struct bufferevent *bev, void *arg) {
    conn_t *c = arg;
    if (!parse(c, bufferevent_get_input(bev))) conn_broken(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
    conn_t *c = arg;
    load_t *L = c->L;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->up = true;
        L->n_up++;
        if (L->phase == PH_CONNECT) {
            if (L->n_up == L->p->conns) start_load(L);
        } else {
            conn_ready(c);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) conn_broken(c);
}

static void conn_open(conn_t *c) {
    load_t *L = c->L;
    c->bev = bufferevent_socket_new(L->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->busy = false;
    c->rx = RX_HEAD;
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&a, sizeof a) != 0) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        retry_later(c);
    }
}

/* ---- the run ---- */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double q) {
    if (!n) return 0;
    size_t i = (size_t)((double)n * q);
    return v[i < n ? i : n - 1];
}

static void raise_nofile(rlim_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int etcd_load_run(const load_params_t *p, load_result_t *r) {
    memset(r, 0, sizeof *r);
    if (p->conns < 1 || p->n_ports < 1 || p->key_size > 64 || p->value_size > 256) {
        snprintf(r->error, sizeof r->error, "bad load parameters");
        return -1;
    }
    raise_nofile((rlim_t)p->conns + 256);
    load_t L;
    memset(&L, 0, sizeof L);
    L.p = p;
    L.r = r;
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);  /* µs timers for the open loop's arrivals */
    L.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    L.c = calloc((size_t)p->conns, sizeof *L.c);
    L.idle = calloc((size_t)p->conns, sizeof *L.idle);
    L.q_cap = p->rate > 0 ? (size_t)(p->rate * 2) + 1024 : 1;  /* two seconds of arrivals */
    L.queue = calloc(L.q_cap, sizeof *L.queue);
    L.interval = p->rate > 0 ? 1.0 / p->rate : 0;
    if (!L.base || !L.c || !L.idle || !L.queue) {
        snprintf(r->error, sizeof r->error, "out of memory");
        goto out;
    }
    L.phase_ev = evtimer_new(L.base, phase_cb, &L);
    L.tick_ev = evtimer_new(L.base, tick_cb, &L);
    for (int i = 0; i < p->conns; i++) {
        conn_t *c = &L.c[i];
        c->L = &L;
        c->idx = i;
        c->port = p->ports[i % p->n_ports];
        build_request(&L, c);
    }
    L.phase = PH_CONNECT;
    arm_phase(&L, 15.0);  /* the connect deadline */
    for (int i = 0; i < p->conns; i++) conn_open(&L.c[i]);
    event_base_dispatch(L.base);
    if (!r->error[0]) {
        r->secs = L.t_end - L.t_meas;
        qsort(L.lat, L.n_lat, sizeof *L.lat, cmp_d);
        r->p50_us = pct(L.lat, L.n_lat, 0.50);
        r->p99_us = pct(L.lat, L.n_lat, 0.99);
        r->p999_us = pct(L.lat, L.n_lat, 0.999);
        r->max_us = L.n_lat ? L.lat[L.n_lat - 1] : 0;
        if (L.phase != PH_DONE) snprintf(r->error, sizeof r->error, "the event loop ended early");
    }
out:
    for (int i = 0; L.c && i < p->conns; i++)
        if (L.c[i].bev) bufferevent_free(L.c[i].bev);
    if (L.phase_ev) event_free(L.phase_ev);
    if (L.tick_ev) event_free(L.tick_ev);
    if (L.base) event_base_free(L.base);  /* pending reconnect timers go with it */
    free(L.c);
    free(L.idle);
    free(L.queue);
    free(L.lat);
    return r->error[0] ? -1 : 0;
}
