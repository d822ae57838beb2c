/* support/mkt_net.c — network fixtures for integration tests (see mkt_net.h). */
#include "support/mkt_net.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static mk_network_id_t test_id;
static void make_id(void) { test_id = mk_id_random(); }

mk_network_id_t mkt_network_id(void) {
    pthread_once(&id_once, make_id);
    return test_id;
}

uint64_t mkt_splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

mk_network_t *mkt_net_new(void (*tweak)(mk_network_config_t *cfg)) {
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network_id = mkt_network_id();
    cfg.bind[0] = "127.0.0.1:0";
    cfg.shutdown_linger_ms = 500;
    if (tweak) tweak(&cfg);
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    if (!n) fail_msg("mk_network_new: %s", e.msg);
    return n;
}

mk_link_t *mkt_dial(mk_network_t *from, mk_network_t *to, const char *alpn) {
    mk_peer_addr_t addr;
    mk_network_addr(to, &addr);
    mk_error_t e;
    mk_link_t *l = mk_link_open(from, &addr, alpn, 0, mkt_ms(5000), &e);
    if (!l) fail_msg("mk_link_open(%s): %s", alpn, e.msg);
    return l;
}

void mkt_pair_open(mkt_pair_t *p, const char *alpn, void (*tweak)(mk_network_config_t *cfg)) {
    memset(p, 0, sizeof *p);
    p->na = mkt_net_new(tweak);
    p->nb = mkt_net_new(tweak);
    mk_error_t e;
    p->lb = mk_network_listen(p->nb, alpn, 0, &e);
    if (!p->lb) fail_msg("mk_network_listen(%s): %s", alpn, e.msg);
    p->a = mkt_dial(p->na, p->nb, alpn);
    p->b = mk_listener_accept(p->lb, mkt_ms(5000), &e);
    if (!p->b) fail_msg("mk_listener_accept: %s", e.msg);
}

void mkt_pair_close(mkt_pair_t *p) {
    mk_link_free(p->a);
    mk_link_free(p->b);
    mk_listener_free(p->lb);
    mk_network_free(p->na);
    mk_network_free(p->nb);
    memset(p, 0, sizeof *p);
}

double mkt_metric(mk_network_t *n, const char *name, const char *labels_sub) {
    mk_buf_t out = MK_BUF_INIT;
    if (mk_metrics_render(n, &out, NULL) != MK_OK) return 0;
    mk_buf_append(&out, "", 1);
    double sum = 0;
    size_t nlen = strlen(name);
    for (char *line = out.ptr; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] != '#' && strncmp(line, name, nlen) == 0 && (line[nlen] == '{' || line[nlen] == ' ')) {
            char *sp = strrchr(line, ' ');
            if (sp && (!labels_sub || strstr(line, labels_sub))) sum += strtod(sp + 1, NULL);
        }
        line = next;
    }
    mk_buf_free(&out);
    return sum;
}
