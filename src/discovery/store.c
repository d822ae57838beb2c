/* discovery/store.c — the catalog's state and merge rules (spec 20 §1.3, §1.4, §2.2, §2.4, §3.5):
 * sorted arrays of entries and tombstones, binary search, and the ordered classification of received
 * entries (cheap checks before the signature). Pure: time comes in as now_ms. */
#include "discovery/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tombstone {
    mk_peer_id_t peer;
    mk_entry_version_t version;
} tombstone_t;

struct mk_store {
    mk_store_params_t p;
    const mk_peer_entry_t *local;
    const mk_peer_entry_t **v;  /* sorted by peer */
    size_t n, cap;
    size_t nsigned;
    tombstone_t *t;             /* sorted by peer */
    size_t nt, capt;
};

mk_store_t *mk_store_new(const mk_store_params_t *p) {
    mk_store_t *s = calloc(1, sizeof *s);
    if (s) s->p = *p;
    return s;
}

void mk_store_free(mk_store_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) mk_peer_entry_unref(s->v[i]);
    mk_peer_entry_unref(s->local);
    free(s->v);
    free(s->t);
    free(s);
}

void mk_store_set_local(mk_store_t *s, const mk_peer_entry_t *local) {
    mk_peer_entry_ref(local);
    mk_peer_entry_unref(s->local);
    s->local = local;
}

const mk_peer_entry_t *mk_store_local(const mk_store_t *s) { return s->local; }

/* ---- sorted arrays ---- */

static size_t find(const mk_store_t *s, const mk_peer_id_t *peer, bool *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(s->v[mid]->peer.b, peer->b, 32);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

static size_t find_t(const mk_store_t *s, const mk_peer_id_t *peer, bool *found) {
    size_t lo = 0, hi = s->nt;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(s->t[mid].peer.b, peer->b, 32);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

static bool insert_at(mk_store_t *s, size_t i, const mk_peer_entry_t *e) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        const mk_peer_entry_t **v = realloc(s->v, cap * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = cap;
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
    s->v[i] = mk_peer_entry_ref(e);
    s->n++;
    if (e->is_signed) s->nsigned++;
    return true;
}

static const mk_peer_entry_t *remove_at(mk_store_t *s, size_t i) {
    const mk_peer_entry_t *e = s->v[i];
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
    s->n--;
    if (e->is_signed) s->nsigned--;
    return e;
}

static void replace_at(mk_store_t *s, size_t i, const mk_peer_entry_t *e) {
    if (s->v[i]->is_signed) s->nsigned--;
    mk_peer_entry_unref(s->v[i]);
    s->v[i] = mk_peer_entry_ref(e);
    if (e->is_signed) s->nsigned++;
}

static void set_tombstone(mk_store_t *s, const mk_peer_id_t *peer, mk_entry_version_t v) {
    bool found;
    size_t i = find_t(s, peer, &found);
    if (found) {
        if (mk_entry_version_cmp(v, s->t[i].version) > 0) s->t[i].version = v;
        return;
    }
    if (s->nt == s->capt) {
        size_t cap = s->capt ? 2 * s->capt : 8;
        tombstone_t *t = realloc(s->t, cap * sizeof *t);
        if (!t) return;
        s->t = t;
        s->capt = cap;
    }
    memmove(&s->t[i + 1], &s->t[i], (s->nt - i) * sizeof *s->t);
    s->t[i] = (tombstone_t){*peer, v};
    s->nt++;
}

/* ---- classification ---- */

static int reject(mk_store_result_t *res, mk_entry_reject_t why, const char *text) {
    res->reject = why;
    snprintf(res->why, sizeof res->why, "%s", text);
    return MK_STORE_REJECTED;
}

int mk_store_offer_entry(mk_store_t *s, const mk_peer_entry_t *e, int64_t now_ms, mk_store_result_t *res) {
    memset(res, 0, sizeof *res);
    res->peer = e->peer;
    res->version = e->version;
    if (!e->is_signed) return reject(res, MK_REJ_MALFORMED, "unsigned entry offered as signed");
    /* 2: network */
    if (!mk_id_eq(&e->network, &s->p.network)) return reject(res, MK_REJ_WRONG_NETWORK, "entry of another network");
    /* 3: self */
    if (mk_id_eq(&e->peer, &s->p.self)) {
        /* "our key is in use elsewhere" only on proof: a valid signature and a date within the drift.
         * Anyone can send a forged or far-future entry with our id; believing it would let them push
         * our version past what others accept. */
        uint64_t lim = (now_ms > 0 ? (uint64_t)now_ms : 0) + s->p.max_time_drift_ms;
        res->self_newer = s->local && mk_entry_version_cmp(e->version, s->local->version) > 0 &&
                          e->version.start_ms <= e->version.update_ms && e->version.update_ms <= lim &&
                          mk_entry_verify(e);
        res->entry = mk_peer_entry_ref(e);
        return MK_STORE_SELF;
    }
    /* 4: future (start ≤ update ≤ now + drift) */
    uint64_t now = now_ms > 0 ? (uint64_t)now_ms : 0;
    if (e->version.start_ms > e->version.update_ms || e->version.update_ms > now + s->p.max_time_drift_ms)
        return reject(res, MK_REJ_FUTURE, "entry dated in the future");
    /* 5: stale */
    if (e->version.update_ms + s->p.purge_after_ms < now) return reject(res, MK_REJ_STALE, "entry older than purge_after");
    /* 6: duplicate */
    bool found;
    size_t i = find(s, &e->peer, &found);
    const mk_peer_entry_t *old = found ? s->v[i] : NULL;
    if (old && old->is_signed && mk_entry_version_cmp(e->version, old->version) <= 0) return MK_STORE_DUPLICATE;
    /* 7: departed */
    bool tfound;
    size_t ti = find_t(s, &e->peer, &tfound);
    if (tfound && mk_entry_version_cmp(e->version, s->t[ti].version) <= 0) return MK_STORE_DEPARTED;
    /* 8: signature */
    if (!mk_entry_verify(e)) return reject(res, MK_REJ_BAD_SIGNATURE, "signature does not verify");
    /* 9: capacity */
    if (!found && s->n >= s->p.max_peers) return reject(res, MK_REJ_FULL, "catalog full");
    if (tfound) {  /* a newer incarnation: the tombstone has done its job */
        memmove(&s->t[ti], &s->t[ti + 1], (s->nt - ti - 1) * sizeof *s->t);
        s->nt--;
    }
    if (found) {
        res->replaced_unsigned = !old->is_signed;
        res->content_changed = !mk_entry_same_content(old, e);
        replace_at(s, i, e);
        res->entry = mk_peer_entry_ref(e);
        return MK_STORE_UPDATED;
    }
    if (!insert_at(s, i, e)) return reject(res, MK_REJ_FULL, "out of memory");
    res->entry = mk_peer_entry_ref(e);
    return MK_STORE_NEW;
}

int mk_store_offer(mk_store_t *s, const void *p, size_t len, int64_t now_ms, mk_store_result_t *res) {
    memset(res, 0, sizeof *res);
    const mk_peer_entry_t *e = NULL;
    mk_entry_reject_t why;
    mk_error_t err;
    if (mk_entry_decode_signed(p, len, &e, &why, &err) != MK_OK) {  /* 1: size, form, limits */
        res->reject = why;
        snprintf(res->why, sizeof res->why, "%.159s", err.msg);
        return MK_STORE_REJECTED;
    }
    int v = mk_store_offer_entry(s, e, now_ms, res);
    mk_peer_entry_unref(e);
    return v;
}

/* ---- unsigned entries ---- */

int mk_store_insert_unsigned(mk_store_t *s, const mk_peer_entry_t *e) {
    if (mk_id_eq(&e->peer, &s->p.self)) return MK_EINVAL;
    if (!mk_id_eq(&e->network, &s->p.network)) return MK_EWRONGNET;
    bool found;
    size_t i = find(s, &e->peer, &found);
    if (found) {
        if (s->v[i]->is_signed) return MK_STORE_IGNORED;
        replace_at(s, i, e);
        return MK_STORE_UPDATED;
    }
    if (s->n >= s->p.max_peers) return MK_STORE_FULL;
    return insert_at(s, i, e) ? MK_STORE_NEW : MK_STORE_FULL;
}

const mk_peer_entry_t *mk_store_remove(mk_store_t *s, const mk_peer_id_t *peer) {
    bool found;
    size_t i = find(s, peer, &found);
    return found ? remove_at(s, i) : NULL;
}

void mk_store_clear_unsigned(mk_store_t *s, void (*gone)(void *ctx, const mk_peer_entry_t *e), void *ctx) {
    for (size_t i = 0; i < s->n;) {
        if (s->v[i]->is_signed) {
            i++;
            continue;
        }
        const mk_peer_entry_t *e = remove_at(s, i);
        if (gone) gone(ctx, e);
        mk_peer_entry_unref(e);
    }
}

/* ---- lookup and iteration ---- */

const mk_peer_entry_t *mk_store_get(const mk_store_t *s, const mk_peer_id_t *peer) {
    bool found;
    size_t i = find(s, peer, &found);
    return found ? s->v[i] : NULL;
}

bool mk_store_has_peer(const mk_store_t *s, const mk_peer_id_t *peer) { return mk_store_get(s, peer) != NULL; }
size_t mk_store_size(const mk_store_t *s) { return s->n; }
const mk_peer_entry_t *mk_store_at(const mk_store_t *s, size_t i) { return i < s->n ? s->v[i] : NULL; }

/* ---- expiry ---- */

int64_t mk_store_next_expiry(const mk_store_t *s) {
    int64_t best = -1;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->v[i]->is_signed) continue;
        int64_t x = (int64_t)(s->v[i]->version.update_ms + s->p.purge_after_ms);
        if (best < 0 || x < best) best = x;
    }
    for (size_t i = 0; i < s->nt; i++) {
        int64_t x = (int64_t)(s->t[i].version.update_ms + s->p.purge_after_ms);
        if (best < 0 || x < best) best = x;
    }
    return best;
}

void mk_store_purge(mk_store_t *s, int64_t now_ms, void (*gone)(void *ctx, const mk_peer_entry_t *e), void *ctx) {
    for (size_t i = 0; i < s->n;) {
        const mk_peer_entry_t *e = s->v[i];
        if (!e->is_signed || (int64_t)(e->version.update_ms + s->p.purge_after_ms) >= now_ms) {  /* stale: update < now − purge */
            i++;
            continue;
        }
        remove_at(s, i);
        if (gone) gone(ctx, e);
        mk_peer_entry_unref(e);
    }
    size_t k = 0;
    for (size_t i = 0; i < s->nt; i++)
        if ((int64_t)(s->t[i].version.update_ms + s->p.purge_after_ms) >= now_ms) s->t[k++] = s->t[i];
    s->nt = k;
}

/* ---- departures ---- */

int mk_store_apply_departure(mk_store_t *s, const mk_departure_t *d, int64_t now_ms, const mk_peer_entry_t **last) {
    *last = NULL;
    if (mk_id_eq(&d->peer, &s->p.self)) return MK_STORE_DEPART_SELF;
    int64_t skew = now_ms - (int64_t)d->at_ms;
    if (skew < 0) skew = -skew;
    if (skew > (int64_t)s->p.max_time_drift_ms) return MK_STORE_DEPART_OUT_OF_WINDOW;
    bool found, tfound;
    size_t i = find(s, &d->peer, &found);
    find_t(s, &d->peer, &tfound);
    const mk_peer_entry_t *cur = found ? s->v[i] : NULL;
    if (cur && cur->is_signed && mk_entry_version_cmp(d->version, cur->version) < 0) return MK_STORE_DEPART_IGNORED;
    if (!cur && tfound) {
        bool t2;
        size_t ti = find_t(s, &d->peer, &t2);
        if (mk_entry_version_cmp(d->version, s->t[ti].version) <= 0) return MK_STORE_DEPART_IGNORED;
    }
    if (!mk_departure_verify(d, &s->p.network)) return MK_STORE_DEPART_BAD_SIGNATURE;
    if (cur) *last = remove_at(s, i);
    set_tombstone(s, &d->peer, d->version);
    return MK_STORE_DEPART_ACCEPTED;
}

void mk_store_counts(const mk_store_t *s, mk_store_counts_t *out) {
    out->signed_peers = s->nsigned;
    out->unsigned_peers = s->n - s->nsigned;
    out->tombstones = s->nt;
}

size_t mk_store_digest(const mk_store_t *s, int64_t now_ms, mk_digest_item_t **out) {
    *out = NULL;
    size_t cap = s->nsigned + 1, k = 0;
    mk_digest_item_t *v = malloc(cap * sizeof *v);
    if (!v) return 0;
    bool local_done = !s->local;
    for (size_t i = 0; i <= s->n; i++) {
        const mk_peer_entry_t *e = i < s->n ? s->v[i] : NULL;
        if (!local_done && (!e || memcmp(s->local->peer.b, e->peer.b, 32) < 0)) {
            v[k++] = (mk_digest_item_t){s->local->peer, s->local->version};
            local_done = true;
        }
        if (!e || !e->is_signed) continue;
        if ((int64_t)(e->version.update_ms + s->p.purge_after_ms) < now_ms) continue;
        v[k++] = (mk_digest_item_t){e->peer, e->version};
    }
    if (!k) {
        free(v);
        return 0;
    }
    *out = v;
    return k;
}
