/* tools/mosaik/inspect.h — the parts of `mosaik inspect`: options and a snapshot of what to show
 * (inspect.c runs the node, the probes and the modes; inspect_view.c renders text and JSON). */
#ifndef MOSAIK_TOOL_INSPECT_H
#define MOSAIK_TOOL_INSPECT_H

#include "cli.h"

typedef struct inspect_opts {
    cli_net_t net;
    double interval_s, wait_s;
    long min_peers;
    bool once, json, no_probe, include_self;
    const char *names[CLI_MAX_LIST];
    size_t nnames;
} inspect_opts_t;

/* One moment of the catalog: the snapshot (owned), our entry when --include-self (owned), our
 * neighbours, and the clocks. */
typedef struct inspect_snap {
    mk_catalog_t *cat;
    const mk_peer_entry_t *self;
    size_t count;
    mk_network_id_t network;
    mk_peer_id_t me;
    mk_peer_id_t active[64];
    size_t nactive;
    int64_t now_ms;   /* wall clock */
    double up_s;      /* since inspect started */
} inspect_snap_t;

/* The --name, well-known or own-tag name of an id, or NULL. */
const char *inspect_name_of(const inspect_opts_t *o, const mk_id_t *id);
/* "jwt" (with *expires_at_ms from its unverified exp claim, else -1), "tdx" or "?". */
const char *inspect_ticket_kind(const mk_ticket_t *t, int64_t *expires_at_ms);
/* The table (malloc'd, NUL-terminated); bold: the header line in bold (a colour TTY). */
char *inspect_render_text(const inspect_opts_t *o, const inspect_snap_t *s, bool bold);
/* The mosaik.inspect/1 document (malloc'd, one line, no newline). */
char *inspect_render_json(const inspect_opts_t *o, const inspect_snap_t *s);

#endif
