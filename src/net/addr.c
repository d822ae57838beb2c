/* net/addr.c — socket address text forms ("a.b.c.d:port", "[v6]:port"), the peer address text form
 * "<PeerId>@addr,…", and the derivation of published addresses from bound sockets and interfaces. */
#include "net/net_internal.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_port(const char *s, size_t n, uint16_t *out) {
    if (n == 0 || n > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return false;
    *out = (uint16_t)v;
    return true;
}

int mk_sockaddr_parse(const char *s, uint16_t default_port, bool port_required, struct sockaddr_storage *out,
                      const char **why) {
    char host[64];
    const char *port_s = NULL;
    size_t hlen;
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (!s || !*s) {
        *why = "empty address";
        return MK_EINVAL;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            *why = "missing ']' after an IPv6 address";
            return MK_EINVAL;
        }
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen >= sizeof host) {
            *why = "malformed IPv6 address";
            return MK_EINVAL;
        }
        memcpy(host, s + 1, hlen);
        host[hlen] = 0;
        if (close[1] == ':') port_s = close + 2;
        else if (close[1] != 0) {
            *why = "unexpected text after ']'";
            return MK_EINVAL;
        }
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
        if (strchr(host, '%') || inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            *why = "malformed IPv6 address (zone ids are not allowed)";
            return MK_EINVAL;
        }
        a6->sin6_family = AF_INET6;
    } else {
        const char *colon = strchr(s, ':');
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon && strchr(colon + 1, ':')) {
            *why = "IPv6 addresses must be written in brackets";
            return MK_EINVAL;
        }
        if (hlen == 0 || hlen >= sizeof host) {
            *why = "malformed IPv4 address";
            return MK_EINVAL;
        }
        memcpy(host, s, hlen);
        host[hlen] = 0;
        if (colon) port_s = colon + 1;
        struct sockaddr_in *a4 = (struct sockaddr_in *)out;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            *why = "malformed IPv4 address";
            return MK_EINVAL;
        }
        a4->sin_family = AF_INET;
    }
    uint16_t port = default_port;
    if (port_s) {
        if (!parse_port(port_s, strlen(port_s), &port)) {
            *why = "port out of range or not a number";
            return MK_EINVAL;
        }
    } else if (port_required) {
        *why = "missing port";
        return MK_EINVAL;
    }
    if (out->ss_family == AF_INET6) ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    else ((struct sockaddr_in *)out)->sin_port = htons(port);
    return MK_OK;
}

int mk_sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t cap) {
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        return snprintf(buf, cap, "[%s]:%u", host, ntohs(a6->sin6_port));
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
        return snprintf(buf, cap, "%s:%u", host, ntohs(a4->sin_port));
    }
    return snprintf(buf, cap, "?");
}

int mk_peer_addr_parse(const char *s, mk_peer_addr_t *out, mk_error_t *e) {
    if (!s || !out) return MK_ERR(e, MK_EINVAL, "address and output are required");
    memset(out, 0, sizeof *out);
    size_t len = strlen(s);
    if (len >= MK_ADDR_STR_MAX) return MK_ERR(e, MK_EINVAL, "address longer than %d bytes", MK_ADDR_STR_MAX - 1);
    const char *at = strchr(s, '@');
    size_t idlen = at ? (size_t)(at - s) : len;
    char id[MK_ID_HEX_LEN + 1];
    if (idlen != MK_ID_HEX_LEN) return MK_ERR(e, MK_EINVAL, "peer id must be 64 hex digits, got %zu characters", idlen);
    memcpy(id, s, idlen);
    id[idlen] = 0;
    if (mk_peer_id_parse(id, &out->peer) != MK_OK) return MK_ERR(e, MK_EINVAL, "peer id is not 64 hex digits");
    if (!at) return MK_OK;
    const char *p = at + 1;
    if (!*p) return MK_ERR(e, MK_EINVAL, "no address after '@'");
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[80];
        if (out->naddrs == MK_ADDR_MAX) return MK_ERR(e, MK_EINVAL, "more than %d addresses", MK_ADDR_MAX);
        if (n == 0 || n >= sizeof one) return MK_ERR(e, MK_EINVAL, "address %u: empty or too long", out->naddrs);
        memcpy(one, p, n);
        one[n] = 0;
        const char *why = NULL;
        if (mk_sockaddr_parse(one, 0, true, &out->addrs[out->naddrs], &why) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "address %u (\"%s\"): %s", out->naddrs, one, why);
        out->naddrs++;
        if (!comma) break;
        p = comma + 1;
        if (!*p) return MK_ERR(e, MK_EINVAL, "trailing ',' after address %u", out->naddrs - 1);
    }
    return MK_OK;
}

int mk_peer_addr_format(const mk_peer_addr_t *a, char *buf, size_t cap) {
    if (!a || a->naddrs > MK_ADDR_MAX) return MK_EINVAL;
    char text[MK_ADDR_STR_MAX + 64];
    char hex[MK_ID_HEX_LEN + 1];
    size_t off = (size_t)snprintf(text, sizeof text, "%s", mk_id_hex(&a->peer, hex));
    for (uint8_t i = 0; i < a->naddrs && off < sizeof text; i++) {
        text[off++] = i == 0 ? '@' : ',';
        int w = mk_sockaddr_format(&a->addrs[i], text + off, sizeof text - off);
        if (w < 0) return MK_EINVAL;
        off += (size_t)w;
    }
    if (off >= sizeof text) return MK_EINVAL;
    return snprintf(buf, cap, "%s", text);
}

static bool is_wildcard(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET) return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (ss->ss_family == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return false;
}

static bool is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void push_addr(mk_peer_addr_t *out, const struct sockaddr *sa, uint16_t port) {
    if (out->naddrs == MK_ADDR_MAX) return;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (sa->sa_family == AF_INET) {
        memcpy(&ss, sa, sizeof(struct sockaddr_in));
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    } else {
        memcpy(&ss, sa, sizeof(struct sockaddr_in6));
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        ((struct sockaddr_in6 *)&ss)->sin6_scope_id = 0;
    }
    for (uint8_t i = 0; i < out->naddrs; i++)
        if (memcmp(&out->addrs[i], &ss, sizeof ss) == 0) return;
    out->addrs[out->naddrs++] = ss;
}

/* Expands a wildcard bind into interface addresses: non-loopback first, loopback last. */
static void expand_wildcard(mk_peer_addr_t *out, int family, uint16_t port, struct ifaddrs *ifs) {
    for (int pass = 0; pass < 2; pass++) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP)) continue;
            if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
                continue;
            if (is_loopback(i->ifa_addr) != (pass == 1)) continue;
            push_addr(out, i->ifa_addr, port);
        }
    }
}

int mk_net_derive_addrs(mk_network_t *n, mk_peer_addr_t *out) {
    memset(out, 0, sizeof *out);
    out->peer = n->self;
    if (n->cfg.advertise[0]) {
        for (size_t i = 0; n->cfg.advertise[i] && out->naddrs < MK_ADDR_MAX; i++) {
            const char *why;
            if (mk_sockaddr_parse(n->cfg.advertise[i], 0, true, &out->addrs[out->naddrs], &why) == MK_OK)
                out->naddrs++;
        }
        return MK_OK;
    }
    struct ifaddrs *ifs = NULL;
    bool have_ifs = false;
    for (size_t i = 0; i < n->nlisten; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(n->listen_fds[i], (struct sockaddr *)&ss, &len) != 0) continue;
        uint16_t port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
        if (is_wildcard(&ss)) {
            if (!have_ifs) have_ifs = getifaddrs(&ifs) == 0;
            if (have_ifs) expand_wildcard(out, ss.ss_family, port, ifs);
        } else {
            push_addr(out, (struct sockaddr *)&ss, port);
        }
    }
    if (have_ifs) freeifaddrs(ifs);
    return MK_OK;
}
