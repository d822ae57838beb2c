/* streams/cond.c — condition evaluation and interval latches (see cond.h). */
#include "streams/cond.h"

#include <stdlib.h>
#include <string.h>

bool mk_when_eval(const mk_when_t *w, const mk_peer_info_t *peers, size_t n) {
    if (!w) return true;
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        for (size_t t = 0; ok && w->tags && w->tags[t]; t++) ok = mk_peer_info_has_tag(&peers[i], w->tags[t]);
        if (ok && w->pred.fn) ok = w->pred.fn(w->pred.ctx, &peers[i]);
        count += ok;
    }
    return (count >= w->min_peers) != w->unmet;
}

void mk_latch_init(mk_cond_latch_t *l, bool met) {
    l->met = met;
    l->reported = false;
    l->intervals = met ? 1 : 0;
}

bool mk_latch_update(mk_cond_latch_t *l, bool met) {
    bool starts = met && !l->met;
    if (starts) {
        l->intervals++;
        l->reported = false;
    }
    l->met = met;
    return starts;
}

bool mk_latch_pending(const mk_cond_latch_t *l) { return l->met && !l->reported; }

bool mk_latch_take(mk_cond_latch_t *l) {
    if (!mk_latch_pending(l)) return false;
    l->reported = true;
    return true;
}

int mk_when_copy(mk_when_t *dst, const mk_when_t *src) {
    *dst = *src;
    dst->tags = NULL;
    if (!src->tags) return MK_OK;
    size_t n = 0;
    while (src->tags[n]) n++;
    const char **t = calloc(n + 1, sizeof *t);
    if (!t) return MK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(t[i] = strdup(src->tags[i]))) {
            for (size_t j = 0; j < i; j++) free((char *)t[j]);
            free(t);
            return MK_ENOMEM;
        }
    dst->tags = t;
    return MK_OK;
}

void mk_when_free(mk_when_t *w) {
    if (!w->tags) return;
    for (size_t i = 0; w->tags[i]; i++) free((char *)w->tags[i]);
    free((void *)w->tags);
    w->tags = NULL;
}
