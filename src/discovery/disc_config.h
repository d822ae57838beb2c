/* discovery/disc_config.h — discovery configuration resolved from mk_discovery_config_t (defaults
 * applied, validated, strings owned) and contact addresses ("[<peer hex>@]host:port,…"). */
#ifndef MK_DISCOVERY_DISC_CONFIG_H
#define MK_DISCOVERY_DISC_CONFIG_H

#include "mosaik/discovery.h"

typedef struct mk_disc_config {
    mk_discovery_config_t c;  /* every numeric field resolved; its string pointers are NULL */
    char **bootstrap;         /* owned, NULL-terminated */
    size_t nbootstrap;
    char **tags;              /* owned, NULL-terminated */
    size_t ntags;
} mk_disc_config_t;

/* Applies defaults and validates (MK_EINVAL naming "discovery.<field>"), copying strings. */
int mk_disc_config_resolve(const mk_discovery_config_t *in, mk_disc_config_t *out, mk_error_t *e);
void mk_disc_config_free(mk_disc_config_t *c);
void mk_disc_free_list(char **list);

/* A contact: addresses, and the peer id unless it was omitted (trust on first use). */
typedef struct mk_disc_contact {
    mk_peer_addr_t addr;  /* addr.peer zero when tofu */
    bool tofu;
} mk_disc_contact_t;
/* Parses "[<64 hex>@]a.b.c.d:port[,[v6]:port…]". MK_EINVAL names the faulty part. Pure. */
int mk_disc_contact_parse(const char *s, mk_disc_contact_t *out, mk_error_t *e);

#endif
