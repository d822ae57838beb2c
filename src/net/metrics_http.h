/* net/metrics_http.h — the Prometheus endpoint: an evhttp server on a network's loop thread that
 * answers every GET/HEAD with the registry's text exposition (10-core-and-network §6). */
#ifndef MK_NET_METRICS_HTTP_H
#define MK_NET_METRICS_HTTP_H

#include "core/metrics.h"
#include "mosaik/core.h"

#include <stddef.h>

struct event_base;
typedef struct mk_metrics_http mk_metrics_http_t;

/* Listens on ip_port ("a.b.c.d:port" or "[v6]:port"; port 0 = ephemeral) and serves r on base.
 * Call on base's loop thread, or before that loop runs. r must outlive the endpoint. Errors:
 * MK_EINVAL (NULL argument or malformed address, message naming metrics_addr), MK_EIO (socket, bind
 * or listen failed: sys_errno set, message naming metrics_addr), MK_ENOMEM. Replies: GET/HEAD on any
 * path → 200 text/plain; version=0.0.4; charset=utf-8; the other standard methods → 405 with
 * `Allow: GET, HEAD` (method names libevent 2.1 does not know get its 501); headers over 8 KiB
 * (400) and any request body (413) are refused by libevent before the handler; idle or slow
 * connections are cut after 5 s. Every request reaching the handler adds 1 to mosaik_metrics_scrapes. */
mk_metrics_http_t *mk_metrics_http_start(struct event_base *base, const char *ip_port, mk_registry_t *r,
                                         mk_error_t *e);

/* Writes the bound address ("127.0.0.1:40123", "[::1]:40123") into buf. Any thread (immutable after
 * start). MK_OK, or MK_EINVAL for NULL arguments / MK_E2BIG when cap is too small (buf then holds
 * "" if cap > 0). 64 bytes always suffice. */
int mk_metrics_http_bound(const mk_metrics_http_t *h, char *buf, size_t cap);

/* Closes the listener and every open connection and frees h. Call on the loop thread, or after the
 * loop stopped. NULL is a no-op. */
void mk_metrics_http_stop(mk_metrics_http_t *h);

#endif
