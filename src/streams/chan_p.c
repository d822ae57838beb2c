/* streams/chan_p.c — the sink ring and its read cursors, sans-I/O (see chan_p.h). */
#include "streams/chan_p.h"

#include "mosaik/core.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static mk_fan_slot_t *slot_of(mk_fan_t *f, uint64_t seq) { return &f->slots[seq % f->cap]; }

/* Releases the slots at the head that no cursor needs any more. */
static void trim(mk_fan_t *f) {
    while (f->head < f->tail) {
        mk_fan_slot_t *s = slot_of(f, f->head);
        if (s->need) return;
        if (f->release && s->datum) f->release(s->datum);
        s->datum = NULL;
        f->head++;
    }
}

/* c has passed slot seq (written or skipped). */
static void pass(mk_fan_t *f, uint64_t seq) {
    mk_fan_slot_t *s = slot_of(f, seq);
    assert(s->need > 0);
    s->need--;
}

int mk_fan_init(mk_fan_t *f, uint32_t cap, bool drop_oldest, void (*release)(void *datum)) {
    memset(f, 0, sizeof *f);
    if (!cap) cap = 1;
    f->slots = calloc(cap, sizeof *f->slots);
    if (!f->slots) return MK_ENOMEM;
    f->cap = cap;
    f->drop_oldest = drop_oldest;
    f->release = release;
    return MK_OK;
}

void mk_fan_free(mk_fan_t *f) {
    if (!f->slots) return;
    for (mk_fan_cursor_t *c = f->cursors; c; c = c->next) c->attached = false;
    f->cursors = NULL;
    f->ncursors = 0;
    for (uint64_t q = f->head; q < f->tail; q++) {
        mk_fan_slot_t *s = slot_of(f, q);
        if (f->release && s->datum) f->release(s->datum);
    }
    free(f->slots);
    memset(f, 0, sizeof *f);
}

void mk_fan_attach(mk_fan_t *f, mk_fan_cursor_t *c) {
    if (c->attached) return;
    c->pos = f->tail;
    c->attached = true;
    c->lagging = c->blocked = false;
    c->next = f->cursors;
    f->cursors = c;
    f->ncursors++;
}

void mk_fan_detach(mk_fan_t *f, mk_fan_cursor_t *c) {
    if (!c->attached) return;
    for (mk_fan_cursor_t **pp = &f->cursors; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    f->ncursors--;
    c->attached = false;
    c->next = NULL;
    for (uint64_t q = c->pos; q < f->tail; q++) pass(f, q);
    c->pos = f->tail;
    trim(f);
}

/* The ring is full: the head slot goes, whoever still needs it is overrun. */
static size_t evict_head(mk_fan_t *f) {
    size_t lagging = 0;
    uint64_t head = f->head;
    for (mk_fan_cursor_t *c = f->cursors, *next; c; c = next) {
        next = c->next;
        if (c->pos != head) continue;
        if (f->drop_oldest) {
            pass(f, head);
            c->pos++;
            c->owed_dropped++;
            c->dropped++;
            f->dropped++;
        } else {
            mk_fan_detach(f, c);  /* releases its backlog, possibly the head slot itself */
            c->lagging = true;
            lagging++;
        }
    }
    trim(f);
    assert(f->tail - f->head < f->cap);
    return lagging;
}

size_t mk_fan_push(mk_fan_t *f, void *datum) {
    size_t lagging = 0;
    if (f->tail - f->head == f->cap) lagging = evict_head(f);
    if (!f->ncursors) {
        if (f->release) f->release(datum);
        return lagging;
    }
    mk_fan_slot_t *s = slot_of(f, f->tail);
    s->datum = datum;
    s->need = (uint32_t)f->ncursors;
    f->tail++;
    return lagging;
}

int mk_fan_flush(mk_fan_t *f, mk_fan_cursor_t *c, mk_fan_write_fn write, void *ctx, uint64_t *written) {
    c->blocked = false;
    int rc = 0;
    while (c->attached && c->pos < f->tail) {
        rc = write(ctx, c, slot_of(f, c->pos)->datum);
        if (rc != 0) {
            c->blocked = rc == MK_EFULL;
            break;
        }
        pass(f, c->pos);
        c->pos++;
        if (written) (*written)++;
    }
    trim(f);
    return rc;
}
