/* streams/defs.c — static stream definitions (spec 30 §1): their ids, the per-side configurations
 * they yield (top-level and side predicates and validators ANDed, side online_when first), the checks
 * that a def is used on its side with its side's keys, and opening from a def plus run-time extras. */
#include "mosaik/streams.h"

#include "core/error.h"

#include <string.h>

mk_id_t mk_stream_def_id(const mk_stream_def_t *d) { return mk_stream_id(d && d->name ? d->name : ""); }

static int append(mk_peer_pred_t *dst, const mk_peer_pred_t *src, const char *field, mk_error_t *e) {
    size_t n = 0;
    while (n < MK_STREAM_MAX_REQUIRE && dst[n].fn) n++;
    for (size_t i = 0; i < MK_STREAM_MAX_REQUIRE && src[i].fn; i++) {
        if (n == MK_STREAM_MAX_REQUIRE) return MK_ERR(e, MK_EINVAL, "%s: more than %d predicates", field, MK_STREAM_MAX_REQUIRE);
        dst[n++] = src[i];
    }
    return MK_OK;
}

static int append_v(const mk_ticket_validator_t **dst, const mk_ticket_validator_t *const *src, const char *field,
                    mk_error_t *e) {
    size_t n = 0;
    while (n < MK_STREAM_MAX_TICKETS && dst[n]) n++;
    for (size_t i = 0; i < MK_STREAM_MAX_TICKETS && src[i]; i++) {
        if (n == MK_STREAM_MAX_TICKETS) return MK_ERR(e, MK_EINVAL, "%s: more than %d validators", field, MK_STREAM_MAX_TICKETS);
        dst[n++] = src[i];
    }
    return MK_OK;
}

static bool side_set(const mk_stream_side_t *s) { return s->require[0].fn || s->require_ticket[0] || s->online_when; }

static int check_name(const mk_stream_def_t *d, mk_error_t *e) {
    if (!d) return MK_ERR(e, MK_EINVAL, "stream def: NULL");
    if (!d->name || !d->name[0]) return MK_ERR(e, MK_EINVAL, "stream def: name is NULL or empty");
    return MK_OK;
}

int mk_stream_def_producer_config(const mk_stream_def_t *d, mk_producer_config_t *out, mk_error_t *e) {
    int rc = check_name(d, e);
    if (rc) return rc;
    if (d->sides == MK_STREAM_CONSUMER_ONLY)
        return MK_ERR(e, MK_EINVAL, "stream def %s: consumer-only, cannot open a producer", d->name);
    if (d->sides == MK_STREAM_PRODUCER_ONLY) {
        if (d->criteria) return MK_ERR(e, MK_EINVAL, "stream def %s: criteria is a consumer key", d->name);
        if (d->backoff) return MK_ERR(e, MK_EINVAL, "stream def %s: backoff is a consumer key", d->name);
        if (side_set(&d->consumer)) return MK_ERR(e, MK_EINVAL, "stream def %s: .consumer keys in a producer-only def", d->name);
    }
    memset(out, 0, sizeof *out);
    out->buffer_size = d->buffer_size;
    out->max_consumers = d->max_consumers;
    out->disconnect_lagging = d->disconnect_lagging;
    if ((rc = append(out->require, d->require, "require", e)) || (rc = append(out->require, d->producer.require, "producer.require", e)) ||
        (rc = append_v(out->require_ticket, d->require_ticket, "require_ticket", e)) ||
        (rc = append_v(out->require_ticket, d->producer.require_ticket, "producer.require_ticket", e)))
        return rc;
    out->online_when = d->producer.online_when ? d->producer.online_when : d->online_when;
    return MK_OK;
}

int mk_stream_def_consumer_config(const mk_stream_def_t *d, mk_consumer_config_t *out, mk_error_t *e) {
    int rc = check_name(d, e);
    if (rc) return rc;
    if (d->sides == MK_STREAM_PRODUCER_ONLY)
        return MK_ERR(e, MK_EINVAL, "stream def %s: producer-only, cannot open a consumer", d->name);
    if (d->sides == MK_STREAM_CONSUMER_ONLY) {
        if (d->buffer_size) return MK_ERR(e, MK_EINVAL, "stream def %s: buffer_size is a producer key", d->name);
        if (d->max_consumers) return MK_ERR(e, MK_EINVAL, "stream def %s: max_consumers is a producer key", d->name);
        if (d->disconnect_lagging) return MK_ERR(e, MK_EINVAL, "stream def %s: disconnect_lagging is a producer key", d->name);
        if (side_set(&d->producer)) return MK_ERR(e, MK_EINVAL, "stream def %s: .producer keys in a consumer-only def", d->name);
    }
    memset(out, 0, sizeof *out);
    out->criteria = d->criteria;
    out->backoff = d->backoff;
    if ((rc = append(out->require, d->require, "require", e)) || (rc = append(out->require, d->consumer.require, "consumer.require", e)) ||
        (rc = append_v(out->require_ticket, d->require_ticket, "require_ticket", e)) ||
        (rc = append_v(out->require_ticket, d->consumer.require_ticket, "consumer.require_ticket", e)))
        return rc;
    out->online_when = d->consumer.online_when ? d->consumer.online_when : d->online_when;
    return MK_OK;
}

mk_producer_t *mk_producer_open_def(mk_network_t *n, const mk_stream_def_t *d, const mk_producer_config_t *extra,
                                    mk_error_t *e) {
    mk_producer_config_t cfg;
    if (mk_stream_def_producer_config(d, &cfg, e) != MK_OK) return NULL;
    if (extra) {
        if (append(cfg.require, extra->require, "extra.require", e) != MK_OK ||
            append_v(cfg.require_ticket, extra->require_ticket, "extra.require_ticket", e) != MK_OK)
            return NULL;
        if (extra->buffer_size) cfg.buffer_size = extra->buffer_size;
        if (extra->max_consumers) cfg.max_consumers = extra->max_consumers;
        if (extra->disconnect_lagging) cfg.disconnect_lagging = extra->disconnect_lagging;
        if (extra->online_when) cfg.online_when = extra->online_when;
        if (extra->undelivered) cfg.undelivered = extra->undelivered, cfg.undelivered_ctx = extra->undelivered_ctx;
        if (extra->on_channel) cfg.on_channel = extra->on_channel, cfg.on_channel_ctx = extra->on_channel_ctx;
        cfg.fail_if_exists = extra->fail_if_exists;
    }
    mk_id_t id = mk_stream_def_id(d);
    return mk_producer_open_id(n, &id, &cfg, e);
}

mk_consumer_t *mk_consumer_open_def(mk_network_t *n, const mk_stream_def_t *d, const mk_consumer_config_t *extra,
                                    mk_error_t *e) {
    mk_consumer_config_t cfg;
    if (mk_stream_def_consumer_config(d, &cfg, e) != MK_OK) return NULL;
    if (extra) {
        if (append(cfg.require, extra->require, "extra.require", e) != MK_OK ||
            append_v(cfg.require_ticket, extra->require_ticket, "extra.require_ticket", e) != MK_OK)
            return NULL;
        if (extra->online_when) cfg.online_when = extra->online_when;
        if (extra->criteria) cfg.criteria = extra->criteria;
        if (extra->backoff) cfg.backoff = extra->backoff;
        if (extra->queue_datums) cfg.queue_datums = extra->queue_datums;
        if (extra->queue_bytes) cfg.queue_bytes = extra->queue_bytes;
        if (extra->on_datum) cfg.on_datum = extra->on_datum, cfg.on_datum_ctx = extra->on_datum_ctx;
        if (extra->on_channel) cfg.on_channel = extra->on_channel, cfg.on_channel_ctx = extra->on_channel_ctx;
    }
    mk_id_t id = mk_stream_def_id(d);
    return mk_consumer_open_id(n, &id, &cfg, e);
}

mk_producer_t *mk_producer_open_online(mk_network_t *n, const mk_stream_def_t *d, int timeout_ms, mk_error_t *e) {
    mk_producer_t *p = mk_producer_open_def(n, d, NULL, e);
    if (p && mk_producer_wait_online(p, timeout_ms, e) != MK_OK) {
        mk_producer_free(p);
        return NULL;
    }
    return p;
}

mk_consumer_t *mk_consumer_open_online(mk_network_t *n, const mk_stream_def_t *d, int timeout_ms, mk_error_t *e) {
    mk_consumer_t *c = mk_consumer_open_def(n, d, NULL, e);
    if (c && mk_consumer_wait_online(c, timeout_ms, e) != MK_OK) {
        mk_consumer_free(c);
        return NULL;
    }
    return c;
}
