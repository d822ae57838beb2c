/* discovery/config.c — the discovery configuration: defaults for zero fields, validation naming the
 * faulty field (spec 20 §9), and owned copies of the borrowed strings. */
#include "discovery/disc_config.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int range(mk_error_t *e, const char *field, uint64_t v, uint64_t lo, uint64_t hi) {
    if (v < lo || v > hi)
        return MK_ERR(e, MK_EINVAL, "discovery.%s: %llu is outside %llu..%llu", field, (unsigned long long)v,
                      (unsigned long long)lo, (unsigned long long)hi);
    return MK_OK;
}

static char **copy_list(const char *const *in, size_t max, size_t *count, const char *field, mk_error_t *e,
                        int *rc) {
    size_t n = 0;
    while (in && in[n]) n++;
    *count = n;
    *rc = MK_OK;
    if (n > max) {
        *rc = MK_ERR(e, MK_EINVAL, "discovery.%s: %zu entries, at most %zu", field, n, max);
        return NULL;
    }
    char **out = calloc(n + 1, sizeof *out);
    if (!out) {
        *rc = MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = strdup(in[i]))) {
            mk_disc_free_list(out);
            *rc = MK_ERR(e, MK_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return out;
}

void mk_disc_free_list(char **list) {
    for (size_t i = 0; list && list[i]; i++) free(list[i]);
    free(list);
}

int mk_disc_config_resolve(const mk_discovery_config_t *in, mk_disc_config_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    mk_discovery_config_t c = in ? *in : (mk_discovery_config_t){0};
    const mk_discovery_config_t d = MK_DISCOVERY_CONFIG_DEFAULT;
#define DEF(f) if (!c.f) c.f = d.f
    DEF(announce_interval_ms); DEF(purge_after_ms); DEF(max_time_drift_ms); DEF(events_backlog);
    DEF(rtt_probe_interval_ms); DEF(rtt_probe_max); DEF(active_view); DEF(passive_view);
    DEF(shuffle_interval_ms); DEF(gossip_flush_ms); DEF(sync_interval_ms); DEF(sync_timeout_ms);
    DEF(departure_window_ms); DEF(max_peers); DEF(dht_poll_fast_ms); DEF(dht_poll_ms);
    DEF(dht_publish_interval_ms); DEF(dht_record_ttl_s); DEF(dht_ping_timeout_ms); DEF(mdns_interval_ms);
#undef DEF
    if (c.announce_jitter == 0.0) c.announce_jitter = d.announce_jitter;
    if (c.passive_view == MK_DISC_NONE_PASSIVE) c.passive_view = 0;
    int rc;
    if ((rc = range(e, "announce_interval_ms", c.announce_interval_ms, 50, 86400000))) return rc;
    if (!(c.announce_jitter >= 0.0 && c.announce_jitter <= 1.0))
        return MK_ERR(e, MK_EINVAL, "discovery.announce_jitter: %g is outside 0..1", c.announce_jitter);
    if ((rc = range(e, "purge_after_ms", c.purge_after_ms, 2ull * c.announce_interval_ms, 30ull * 86400000)))
        return MK_ERR(e, MK_EINVAL, "discovery.purge_after_ms: %u must be at least 2 x announce_interval_ms (%u)",
                      c.purge_after_ms, c.announce_interval_ms);
    if ((rc = range(e, "max_time_drift_ms", c.max_time_drift_ms, 1, 86400000))) return rc;
    if ((rc = range(e, "events_backlog", c.events_backlog, 1, 1u << 20))) return rc;
    if ((rc = range(e, "rtt_probe_interval_ms", c.rtt_probe_interval_ms, 50, 86400000))) return rc;
    if ((rc = range(e, "rtt_probe_max", c.rtt_probe_max, 1, 4096))) return rc;
    if ((rc = range(e, "max_rtt_ms", c.max_rtt_ms, 0, 600000))) return rc;
    if ((rc = range(e, "active_view", c.active_view, 1, 32))) return rc;
    if ((rc = range(e, "passive_view", c.passive_view, 0, 256))) return rc;
    if ((rc = range(e, "shuffle_interval_ms", c.shuffle_interval_ms, 50, 86400000))) return rc;
    if ((rc = range(e, "gossip_flush_ms", c.gossip_flush_ms, 1, 600000))) return rc;
    if ((rc = range(e, "sync_interval_ms", c.sync_interval_ms, 50, 86400000))) return rc;
    if ((rc = range(e, "sync_timeout_ms", c.sync_timeout_ms, 10, 600000))) return rc;
    if ((rc = range(e, "departure_window_ms", c.departure_window_ms, 1, 60000))) return rc;
    if ((rc = range(e, "max_peers", c.max_peers, 1, 1000000))) return rc;
    size_t nboot = 0, ntags = 0;
    for (size_t i = 0; c.bootstrap && c.bootstrap[i]; i++) {
        mk_disc_contact_t probe;
        if ((rc = mk_disc_contact_parse(c.bootstrap[i], &probe, e)) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "discovery.bootstrap[%zu]: %s", i, e ? e->msg : "invalid address");
    }
    for (size_t i = 0; c.tags && c.tags[i]; i++)
        if (!c.tags[i][0]) return MK_ERR(e, MK_EINVAL, "discovery.tags[%zu]: empty tag name", i);
    out->bootstrap = copy_list(c.bootstrap, 64, &nboot, "bootstrap", e, &rc);
    if (rc) return rc;
    out->tags = copy_list(c.tags, MK_ENTRY_MAX_TAGS, &ntags, "tags", e, &rc);
    if (rc) {
        mk_disc_free_list(out->bootstrap);
        out->bootstrap = NULL;
        return rc;
    }
    out->nbootstrap = nboot;
    out->ntags = ntags;
    out->c = c;
    out->c.bootstrap = NULL;  /* the owned copies above are the ones to use */
    out->c.tags = NULL;
    out->c.dht_routers = NULL;
    out->c.dht_bind = NULL;
    return MK_OK;
}

void mk_disc_config_free(mk_disc_config_t *c) {
    mk_disc_free_list(c->bootstrap);
    mk_disc_free_list(c->tags);
    memset(c, 0, sizeof *c);
}

/* "[<64 hex>@]addr[,addr…]" with IP-literal addresses (as in the net address text form). */
int mk_disc_contact_parse(const char *s, mk_disc_contact_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    if (!s || !*s) return MK_ERR(e, MK_EINVAL, "empty address");
    const char *at = strchr(s, '@');
    if (at) return mk_peer_addr_parse(s, &out->addr, e);
    /* no PeerId: trust on first use; reuse the net parser with a placeholder id */
    char buf[MK_ADDR_STR_MAX + 80];
    int n = snprintf(buf, sizeof buf, "%064d@%s", 0, s);
    if (n < 0 || (size_t)n >= sizeof buf) return MK_ERR(e, MK_EINVAL, "address too long (%zu bytes)", strlen(s));
    int rc = mk_peer_addr_parse(buf, &out->addr, e);
    if (rc != MK_OK) return rc;
    memset(&out->addr.peer, 0, sizeof out->addr.peer);
    out->tofu = true;
    return MK_OK;
}
