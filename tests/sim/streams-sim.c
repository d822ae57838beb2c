/* tests/sim/streams-sim.c — the streams simulator (spec 30 §9, spec 80 §6): one producer's sans-I/O
 * data path — the acceptor (accept.c), the sink ring with read cursors (chan_p.c), the real frame
 * codec (wire.c) — feeding consumers that run the consumer channel rules (chan_c.c) and reconnect on
 * the seeded backoff (backoff.c), over simulated links with bounded windows and uneven drain rates,
 * bursts, stalls, departures, a consumer limit and lagging. Checked after every event: datums arrive
 * in order with every gap announced by a Dropped of exactly its size (none in disconnect mode);
 * received + announced + in flight + owed + backlog = produced since the subscription; the ring and
 * every backlog stay within buffer_size; a cursor becomes lagging only with a full backlog; a datum is
 * written only while held and released exactly once; the channel rules never see a protocol error;
 * backoff delays stay within their bounds. At the end every live consumer has caught up and every
 * datum was released. --mutate breaks the glue on purpose so that a test can show the checks trip. */
#include "sim/sim.h"

#include "mosaik/network.h"
#include "streams/accept.h"
#include "streams/backoff.h"
#include "streams/chan_c.h"
#include "streams/chan_p.h"
#include "streams/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000LL
#define MAX_CONSUMERS 8
#define MAX_DATUMS 20000

typedef struct frame {
    struct frame *next;
    size_t len;
    uint8_t bytes[];
} frame_t;

typedef struct datum {
    uint64_t seq;
    size_t len;
    uint8_t bytes[40];
} datum_t;

typedef struct consumer {
    int idx;
    bool on;                   /* subscribed (handshake done) */
    bool waiting_retry;
    mk_fan_cursor_t cur;
    mk_chan_c_t proto;
    frame_t *head, *tail;      /* the link: frames written, not yet read */
    uint32_t inflight_datums, window;  /* datum frames in the link; window in frames */
    uint64_t inflight_dropped; /* sum of Dropped counts in the link */
    bool want_writable;
    bool reader_armed;         /* a read event is scheduled */
    int64_t read_every_us;     /* drain pace */
    uint32_t read_batch;
    int64_t stall_until_us;
    uint64_t start_seq, next_seq, pending_dropped, received, announced;
    uint64_t sessions;
    mk_backoff_state_t backoff;
} consumer_t;

typedef struct world {
    sim_t *s;
    mk_fan_t fan;
    mk_id_t net, stream;
    bool drop;
    uint32_t cap, max_consumers, nconsumers, connected;
    consumer_t c[MAX_CONSUMERS];
    uint64_t produced, target;
    uint8_t state[MAX_DATUMS];  /* 0 never made, 1 held, 2 released */
    mk_backoff_params_t bp;
    uint64_t rng;
    bool producing;
    uint64_t lagging, refused;  /* for the summary: did the seeds reach these paths */
    bool mut_no_dropped, mut_no_writable;
} world_t;

/* ---- the link ---- */

static void reader(sim_t *s, void *a, uint64_t b);
static world_t *g_world;  /* the ring's release callback has no context argument */

/* Frames wait in the link until the consumer's next read, read_every_us after they arrived. */
static void arm_reader(world_t *w, consumer_t *c, int64_t at_us) {
    if (c->reader_armed) return;
    c->reader_armed = true;
    sim_at(w->s, at_us, reader, w, (uint64_t)c->idx);
}

static void link_clear(consumer_t *c) {
    for (frame_t *f = c->head, *next; f; f = next) {
        next = f->next;
        free(f);
    }
    c->head = c->tail = NULL;
    c->inflight_datums = 0;
    c->inflight_dropped = 0;
    c->want_writable = false;
}

static void link_push(consumer_t *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    frame_t *f = malloc(sizeof *f + alen + blen);
    if (!f) abort();
    f->next = NULL;
    f->len = alen + blen;
    memcpy(f->bytes, a, alen);
    if (blen) memcpy(f->bytes + alen, b, blen);
    if (c->tail) c->tail->next = f;
    else c->head = f;
    c->tail = f;
    arm_reader(g_world, c, g_world->s->now_us + c->read_every_us);
}

/* ---- the producer's side ---- */

static void release(void *p) {
    datum_t *d = p;
    world_t *w = g_world;
    if (d->seq >= MAX_DATUMS || w->state[d->seq] != 1)
        sim_violate(w->s, "released_twice", "datum %llu released while not held", (unsigned long long)d->seq);
    else w->state[d->seq] = 2;
    free(d);
}

static int write_fn(void *ctx, mk_fan_cursor_t *cur, void *p) {
    world_t *w = ctx;
    consumer_t *c = (consumer_t *)((char *)cur - offsetof(consumer_t, cur));
    datum_t *d = p;
    if (w->state[d->seq] != 1)
        sim_violate(w->s, "write_after_release", "datum %llu written to consumer %d after its release",
                    (unsigned long long)d->seq, c->idx);
    if (c->inflight_datums >= c->window) {
        c->want_writable = true;
        return MK_EFULL;
    }
    if (cur->owed_dropped) {
        if (!w->mut_no_dropped) {
            mk_buf_t f = MK_BUF_INIT;
            if (mk_smsg_encode_dropped(cur->owed_dropped, &f) != MK_OK) abort();
            link_push(c, f.ptr, f.len, NULL, 0);
            mk_buf_free(&f);
            c->inflight_dropped += cur->owed_dropped;
        }
        cur->owed_dropped = 0;
    }
    uint8_t hdr = MK_SMSG_DATUM_HEADER;
    link_push(c, &hdr, 1, d->bytes, d->len);
    c->inflight_datums++;
    return 0;
}

static void trace(world_t *w, uint32_t node, uint32_t kind, uint64_t arg) {
    char text[64];
    static const char *const names[] = {"?", "produce", "disconnect", "refused", "subscribed"};
    snprintf(text, sizeof text, "%s %llu", kind < 5 ? names[kind] : "?", (unsigned long long)arg);
    sim_trace(w->s, node, kind, arg, w->s->trace ? text : NULL);
}

static void check_accounting(world_t *w) {
    if (mk_fan_held(&w->fan) > w->cap)
        sim_violate(w->s, "ring_overfull", "the ring holds %llu > %u", (unsigned long long)mk_fan_held(&w->fan), w->cap);
    for (uint32_t i = 0; i < w->nconsumers; i++) {
        consumer_t *c = &w->c[i];
        if (!c->on) continue;
        uint64_t backlog = mk_fan_backlog(&w->fan, &c->cur);
        if (backlog > w->cap)
            sim_violate(w->s, "backlog_overfull", "consumer %d has a backlog of %llu > %u", c->idx,
                        (unsigned long long)backlog, w->cap);
        uint64_t lhs = c->received + c->announced + c->inflight_datums + c->inflight_dropped + c->cur.owed_dropped +
                       backlog;
        uint64_t since = w->produced - c->start_seq;
        if (lhs != since)
            sim_violate(w->s, "accounting", "consumer %d: received %llu + announced %llu + in flight %u+%llu + owed %llu "
                        "+ backlog %llu != %llu produced since it subscribed", c->idx,
                        (unsigned long long)c->received, (unsigned long long)c->announced, c->inflight_datums,
                        (unsigned long long)c->inflight_dropped, (unsigned long long)c->cur.owed_dropped,
                        (unsigned long long)backlog, (unsigned long long)since);
        if (!w->drop && (c->announced || c->cur.dropped))
            sim_violate(w->s, "dropped_in_disconnect_mode", "consumer %d was told of drops", c->idx);
    }
}

static void flush(world_t *w, consumer_t *c) {
    int rc = mk_fan_flush(&w->fan, &c->cur, write_fn, w, NULL);
    if (rc != 0 && rc != MK_EFULL) sim_violate(w->s, "link_failed", "consumer %d: write failed %d", c->idx, rc);
}

static void schedule_retry(world_t *w, consumer_t *c);

static void disconnect(world_t *w, consumer_t *c, uint32_t why) {
    mk_fan_detach(&w->fan, &c->cur);
    link_clear(c);
    if (c->on) w->connected--;
    c->on = false;
    trace(w, (uint32_t)c->idx, 2, why);
    schedule_retry(w, c);
}

static void produce(sim_t *s, void *a, uint64_t b) {
    (void)b;
    world_t *w = a;
    if (!w->producing) return;
    if (w->produced >= w->target) {
        w->producing = false;
        return;
    }
    datum_t *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->seq = w->produced;
    d->len = 8 + (size_t)sim_below(s, 32);
    memcpy(d->bytes, &d->seq, 8);
    uint64_t before[MAX_CONSUMERS];
    for (uint32_t i = 0; i < w->nconsumers; i++) before[i] = mk_fan_backlog(&w->fan, &w->c[i].cur);
    w->state[d->seq] = 1;
    w->produced++;
    uint64_t seq = d->seq;
    size_t lagging = mk_fan_push(&w->fan, d);  /* may release d at once */
    trace(w, 0, 1, seq);
    size_t seen = 0;
    for (uint32_t i = 0; i < w->nconsumers; i++) {
        consumer_t *c = &w->c[i];
        if (!c->on) continue;
        if (c->cur.lagging) {
            seen++;
            if (w->drop || before[i] != w->cap)
                sim_violate(s, "early_lagging", "consumer %d lagging with a backlog of %llu (cap %u, drop %d)", c->idx,
                            (unsigned long long)before[i], w->cap, w->drop);
            w->lagging++;
            disconnect(w, c, 10413);
            continue;
        }
        if (!c->cur.blocked) flush(w, c);
    }
    if (seen != lagging) sim_violate(s, "lagging_count", "push reported %zu lagging, %zu found", lagging, seen);
    check_accounting(w);
    /* bursts: mostly back to back, sometimes a pause */
    int64_t gap = sim_below(s, 10) < 8 ? (int64_t)sim_below(s, 200) : (int64_t)sim_range(s, 1, 30) * MS;
    sim_at(s, s->now_us + gap, produce, w, 0);
}

/* ---- the consumer's side ---- */

typedef struct acc {
    world_t *w;
} acc_t;
static bool acc_yes(void *ctx, const mk_id_t *stream) {
    acc_t *a = ctx;
    return mk_id_eq(stream, &a->w->stream);
}
static bool acc_known(void *ctx, const mk_id_t *stream) {
    (void)ctx;
    (void)stream;
    return true;
}
static bool acc_allowed(void *ctx, const mk_id_t *stream, const char **why) {
    (void)ctx;
    (void)stream;
    (void)why;
    return true;
}
static bool acc_capacity(void *ctx, const mk_id_t *stream) {
    (void)stream;
    acc_t *a = ctx;
    return a->w->connected < a->w->max_consumers;
}
static const mk_accept_ops_t acc_ops = {acc_yes, acc_known, acc_allowed, acc_capacity};

static void subscribe(sim_t *s, void *a, uint64_t b) {
    world_t *w = a;
    consumer_t *c = &w->c[b];
    c->waiting_retry = false;
    if (c->on) return;
    mk_buf_t f = MK_BUF_INIT;
    if (mk_smsg_encode_subscribe(&w->net, &w->stream, MK_CRITERIA_TAG_ALL, &f) != MK_OK) abort();
    mk_chan_p_t p;
    mk_chan_p_init(&p);
    mk_chan_p_action_t act;
    acc_t ctx = {w};
    mk_chan_p_frame(&p, &w->net, f.ptr, f.len, &acc_ops, &ctx, &act);
    mk_buf_free(&f);
    mk_chan_c_init(&c->proto, &w->net, &w->stream);
    if (!act.accepted) {
        if (act.close_code != MK_CLOSE_STREAM_NO_CAPACITY)
            sim_violate(s, "unexpected_refusal", "consumer %d refused with %u (%s)", c->idx, act.close_code,
                        act.why ? act.why : "");
        w->refused++;
        trace(w, (uint32_t)c->idx, 3, act.close_code);
        schedule_retry(w, c);
        return;
    }
    if (mk_smsg_encode_accepted(&w->net, &w->stream, &f) != MK_OK) abort();
    link_push(c, f.ptr, f.len, NULL, 0);
    mk_buf_free(&f);
    mk_fan_attach(&w->fan, &c->cur);
    c->cur.dropped = c->cur.owed_dropped = 0;
    c->on = true;
    w->connected++;
    c->sessions++;
    c->start_seq = c->next_seq = w->produced;
    c->received = c->announced = c->pending_dropped = 0;
    mk_backoff_reset(&c->backoff);
    trace(w, (uint32_t)c->idx, 4, c->start_seq);
    (void)b;
}

static void schedule_retry(world_t *w, consumer_t *c) {
    if (c->waiting_retry) return;
    int64_t now_ms = w->s->now_us / MS + 1;  /* 0 means "no streak" to the backoff */
    int64_t delay = mk_backoff_next(&c->backoff, &w->bp, now_ms, &w->rng);
    double cap = w->bp.max_interval_ms * (1.0 + w->bp.randomization) + 1;
    if (delay > cap) sim_violate(w->s, "backoff_bound", "consumer %d: delay %lld ms > %.0f", c->idx, (long long)delay, cap);
    if (delay < 0) delay = w->bp.max_interval_ms;  /* no max_elapsed in this model: never */
    c->waiting_retry = true;
    sim_at(w->s, w->s->now_us + delay * MS, subscribe, w, (uint64_t)c->idx);
}

/* One frame arrives at the consumer. */
static void consume(world_t *w, consumer_t *c, frame_t *f) {
    mk_chan_c_action_t act;
    bool was_datum = f->len && f->bytes[0] == MK_SMSG_DATUM_HEADER;
    if (was_datum) c->inflight_datums--;
    mk_chan_c_frame(&c->proto, f->bytes, f->len, &act);
    switch (act.kind) {
    case MK_CHAN_C_DATUM: {
        uint64_t seq;
        if (act.datum.len < 8) {
            sim_violate(w->s, "datum_corrupt", "consumer %d: a datum of %zu bytes", c->idx, act.datum.len);
            return;
        }
        memcpy(&seq, act.datum.ptr, 8);
        uint64_t expect = c->next_seq + c->pending_dropped;
        if (seq != expect)
            sim_violate(w->s, "order_or_gap", "consumer %d: datum %llu where %llu was due (%llu announced dropped)",
                        c->idx, (unsigned long long)seq, (unsigned long long)expect,
                        (unsigned long long)c->pending_dropped);
        c->next_seq = seq + 1;
        c->pending_dropped = 0;
        c->received++;
        break;
    }
    case MK_CHAN_C_DROPPED:
        c->inflight_dropped -= act.dropped;
        c->pending_dropped += act.dropped;
        c->announced += act.dropped;
        break;
    case MK_CHAN_C_ACCEPTED: break;
    case MK_CHAN_C_CLOSE:
        sim_violate(w->s, "protocol_error", "consumer %d closed the channel: %u %s", c->idx, act.close_code, act.why);
        break;
    case MK_CHAN_C_NONE: break;
    }
}

static void reader(sim_t *s, void *a, uint64_t b) {
    world_t *w = a;
    consumer_t *c = &w->c[b];
    c->reader_armed = false;
    if (s->now_us >= c->stall_until_us) {
        for (uint32_t k = 0; k < c->read_batch && c->head; k++) {
            frame_t *f = c->head;
            c->head = f->next;
            if (!c->head) c->tail = NULL;
            consume(w, c, f);
            free(f);
        }
        if (c->on && c->want_writable && c->inflight_datums <= c->window / 2) {
            c->want_writable = false;
            if (!w->mut_no_writable) flush(w, c);
        }
        if (sim_below(s, 200) == 0) c->stall_until_us = s->now_us + sim_range(s, 1, 200) * MS;  /* a stall */
        check_accounting(w);
    }
    if (c->head) arm_reader(w, c, s->now_us < c->stall_until_us ? c->stall_until_us : s->now_us + c->read_every_us);
}

static void churn(sim_t *s, void *a, uint64_t b) {
    (void)b;
    world_t *w = a;
    if (!w->producing) return;
    consumer_t *c = &w->c[sim_below(s, w->nconsumers)];
    if (c->on) disconnect(w, c, 204);  /* the consumer leaves; it comes back after its backoff */
    check_accounting(w);
    sim_at(s, s->now_us + sim_range(s, 50, 2000) * MS, churn, w, 0);
}

/* ---- one seed ---- */

typedef struct result {
    uint64_t produced, received, announced, sessions, lagging, refused;
    char digest[17];
    bool violated;
} result_t;

static void run_seed(uint64_t seed, bool trace, bool mut_no_dropped, bool mut_no_writable, result_t *r) {
    sim_t s;
    sim_init(&s, "streams-sim", seed, trace);
    world_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    g_world = w;
    w->s = &s;
    w->mut_no_dropped = mut_no_dropped;
    w->mut_no_writable = mut_no_writable;
    w->cap = (uint32_t)sim_range(&s, 2, 64);
    w->drop = mut_no_dropped || sim_below(&s, 2);
    w->nconsumers = (uint32_t)sim_range(&s, 1, MAX_CONSUMERS);
    w->max_consumers = sim_below(&s, 4) == 0 ? (uint32_t)sim_range(&s, 1, w->nconsumers) : MAX_CONSUMERS;
    w->target = (uint64_t)sim_range(&s, 300, 3000);
    w->rng = sim_rand(&s);
    w->bp = (mk_backoff_params_t){.initial_ms = 20, .max_interval_ms = 400, .multiplier = 2.0, .randomization = 0.3};
    for (int i = 0; i < 32; i++) {
        w->net.b[i] = (uint8_t)i;
        w->stream.b[i] = (uint8_t)(0x40 + i);
    }
    if (mk_fan_init(&w->fan, w->cap, w->drop, release) != MK_OK) abort();
    for (uint32_t i = 0; i < w->nconsumers; i++) {
        consumer_t *c = &w->c[i];
        c->idx = (int)i;
        c->window = (uint32_t)sim_range(&s, 1, 16);
        bool slow = sim_below(&s, 3) == 0;
        c->read_every_us = slow ? sim_range(&s, 500, 5000) : sim_range(&s, 20, 300);
        c->read_batch = (uint32_t)sim_range(&s, 1, 8);
        sim_at(&s, sim_range(&s, 0, 50) * MS, subscribe, w, i);
    }
    w->producing = true;
    sim_at(&s, 10 * MS, produce, w, 0);
    sim_at(&s, sim_range(&s, 100, 1000) * MS, churn, w, 0);
    /* production lasts a few virtual seconds; then consumers get 30 s to catch up */
    int64_t end = 0;
    while (!s.violated && (w->producing || end == 0)) {
        if (!sim_run_until(&s, s.now_us + 1000 * MS)) break;
        if (!w->producing && end == 0) end = s.now_us + 30 * 1000 * MS;
    }
    if (!s.violated) sim_run_until(&s, end);
    if (!s.violated) {  /* liveness: everyone still subscribed has caught up */
        for (uint32_t i = 0; i < w->nconsumers; i++) {
            consumer_t *c = &w->c[i];
            if (!c->on) continue;
            uint64_t since = w->produced - c->start_seq;
            if (c->received + c->announced != since || mk_fan_backlog(&w->fan, &c->cur) || c->head)
                sim_violate(&s, "not_caught_up", "consumer %d: received %llu + announced %llu of %llu, backlog %llu",
                            c->idx, (unsigned long long)c->received, (unsigned long long)c->announced,
                            (unsigned long long)since, (unsigned long long)mk_fan_backlog(&w->fan, &c->cur));
        }
    }
    for (uint32_t i = 0; i < w->nconsumers; i++) {
        r->received += w->c[i].received;
        r->announced += w->c[i].announced;
        r->sessions += w->c[i].sessions;
        mk_fan_detach(&w->fan, &w->c[i].cur);
        link_clear(&w->c[i]);
    }
    mk_fan_free(&w->fan);
    for (uint64_t q = 0; q < w->produced && !s.violated; q++)
        if (w->state[q] != 2) sim_violate(&s, "leaked", "datum %llu never released", (unsigned long long)q);
    r->produced = w->produced;
    r->lagging = w->lagging;
    r->refused = w->refused;
    r->violated = s.violated;
    sim_digest_hex(&s, r->digest);
    free(w);
    sim_free(&s);
}

static void usage(void) {
    fprintf(stderr, "usage: streams-sim [--seeds N] [--seed S] [--trace] [--mutate no_dropped|no_writable]\n"
                    "                   [--expect-violation] [--check-determinism]\n");
}

int main(int argc, char **argv) {
    sim_opts_t o;
    argc = sim_opts_parse(argc, argv, 200, &o);
    bool mut_no_dropped = false, mut_no_writable = false, expect = false, determinism = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mutate") && i + 1 < argc) {
            const char *m = argv[++i];
            if (!strcmp(m, "no_dropped")) mut_no_dropped = true;
            else if (!strcmp(m, "no_writable")) mut_no_writable = true;
            else {
                usage();
                return 2;
            }
        } else if (!strcmp(argv[i], "--expect-violation")) expect = true;
        else if (!strcmp(argv[i], "--check-determinism")) determinism = true;
        else {
            usage();
            return 2;
        }
    }
    uint64_t violations = 0, produced = 0, received = 0, announced = 0, sessions = 0, lagging = 0, refused = 0;
    for (uint64_t k = 0; k < o.seeds; k++) {
        uint64_t seed = o.seed + k;
        result_t r = {0};
        run_seed(seed, o.trace, mut_no_dropped, mut_no_writable, &r);
        violations += r.violated;
        produced += r.produced;
        received += r.received;
        announced += r.announced;
        sessions += r.sessions;
        lagging += r.lagging;
        refused += r.refused;
        if (determinism) {
            result_t again = {0};
            run_seed(seed, o.trace, mut_no_dropped, mut_no_writable, &again);
            if (strcmp(r.digest, again.digest) != 0) {
                printf("streams-sim: seed %llu is not deterministic: trace digests %s and %s\n",
                       (unsigned long long)seed, r.digest, again.digest);
                return 1;
            }
        }
    }
    printf("{\"sim\":\"streams\",\"seeds\":%llu,\"violations\":%llu,\"produced\":%llu,\"received\":%llu,"
           "\"announced_dropped\":%llu,\"sessions\":%llu,\"lagging\":%llu,\"refused_capacity\":%llu}\n",
           (unsigned long long)o.seeds, (unsigned long long)violations, (unsigned long long)produced,
           (unsigned long long)received, (unsigned long long)announced, (unsigned long long)sessions,
           (unsigned long long)lagging, (unsigned long long)refused);
    if (expect) {
        if (violations == 0) {
            printf("streams-sim: the mutation went unnoticed over %llu seeds\n", (unsigned long long)o.seeds);
            return 1;
        }
        printf("streams-sim: %llu of %llu seeds violated an invariant, as the mutation must make them\n",
               (unsigned long long)violations, (unsigned long long)o.seeds);
        return 0;
    }
    return violations ? 1 : 0;
}
