/* support/mkt_net.h — network fixtures for integration tests: loopback networks with test timings,
 * connected pairs of links, and small helpers. */
#ifndef MKT_NET_H
#define MKT_NET_H

#include <mosaik/mosaik.h>

#include "support/mkt.h"

typedef struct mkt_pair {
    mk_network_t *na, *nb;
    mk_listener_t *lb;     /* listener on nb for the pair's ALPN */
    mk_link_t *a, *b;      /* a: dialed from na; b: accepted on nb */
} mkt_pair_t;

/* The network id shared by one test process (fresh random per process). */
mk_network_id_t mkt_network_id(void);
/* A network on 127.0.0.1:0 with the test network id; `tweak` (may be NULL) adjusts the config first.
 * Fails the test on error. */
mk_network_t *mkt_net_new(void (*tweak)(mk_network_config_t *cfg));
/* Two networks, a listener for alpn on the second, one link dialed and accepted. Fails the test on error. */
void mkt_pair_open(mkt_pair_t *p, const char *alpn, void (*tweak)(mk_network_config_t *cfg));
/* Frees the links, the listener and both networks. */
void mkt_pair_close(mkt_pair_t *p);
/* Dials `to` from `from` (to's published addresses) with alpn; fails the test on error. */
mk_link_t *mkt_dial(mk_network_t *from, mk_network_t *to, const char *alpn);
/* Deterministic PRNG step (splitmix64). */
uint64_t mkt_splitmix(uint64_t *state);
/* Value of one series in the network's Prometheus render (sum over series whose label text contains
 * `labels_sub`, NULL = all); 0 when absent. */
double mkt_metric(mk_network_t *n, const char *name, const char *labels_sub);

#endif
