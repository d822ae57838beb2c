/* bench/groups/etcd_load.h — the load generator of bench_groups' etcd rows: a libevent client (one
 * event_base, bufferevents, hand-written HTTP/1.1) that sends `POST /v3/kv/put` with
 * {"key":"<base64 16 B>","value":"<base64 64 B>"} to etcd's v3 JSON gateway over keep-alive
 * connections, one request in flight per connection (Go's server answers one request per connection at
 * a time, so concurrency = connections). Closed loop: W connections, each sends its next put as soon as
 * the previous one is answered. Open loop: puts arrive at a fixed rate and take an idle connection; when
 * none is idle they queue, and latency counts from the scheduled arrival (no coordinated omission).
 * Success = HTTP 200 with a "header" object in the body. Latency = request written → response parsed. */
#ifndef MK_BENCH_GROUPS_ETCD_LOAD_H
#define MK_BENCH_GROUPS_ETCD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct load_params {
    const int *ports;               /* 127.0.0.1 client ports; connection i uses ports[i % n_ports] */
    int n_ports;
    int conns;                      /* closed loop: W; open loop: the most requests in flight */
    double rate;                    /* 0 = closed loop; > 0 = open loop, arrivals per second */
    double warmup_s, measure_s;     /* warm-up (discarded), then the measured window */
    double drain_s;                 /* after the window, wait at most this long for answers */
    size_t key_size, value_size;    /* bytes before base64: 16 and 64 */
    uint64_t seed;                  /* keys and values come from a PRNG seeded with it */
    void (*on_window)(void *ctx, bool start);  /* called when the measured window opens and closes */
    void *ctx;
} load_params_t;

typedef struct load_result {
    long completed;                 /* successful answers in the measured window */
    long errors;                    /* failed answers and broken connections in the window */
    long dropped;                   /* open loop: arrivals refused because the queue was full */
    long reconnects;                /* over the whole run */
    double secs;                    /* the measured window's length */
    double p50_us, p99_us, p999_us, max_us;
    double client_cpu_s;            /* CPU of the calling thread in the window */
    char error[200];                /* set when the run could not be done (e.g. connections refused) */
} load_result_t;

/* Runs one load phase in the calling thread. Returns 0, or -1 with r->error set. */
int etcd_load_run(const load_params_t *p, load_result_t *r);

#endif
