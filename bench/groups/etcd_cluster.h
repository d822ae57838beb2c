/* bench/groups/etcd_cluster.h — the etcd harness of bench_groups: starts an etcd 3.4 cluster of N
 * members on 127.0.0.1 (free ports, data dirs on tmpfs or on disk), waits until every member is
 * healthy, finds the leader, reads metrics, and stops it again: SIGKILL to the members'
 * process group, every member reaped, the run directory removed — also when the bench is interrupted
 * (SIGINT/SIGTERM/SIGHUP handler, atexit) or killed (the members carry PR_SET_PDEATHSIG). Plus a tiny
 * blocking HTTP/1.1 helper for the control requests (/health, /v3/maintenance/status, /metrics). */
#ifndef MK_BENCH_GROUPS_ETCD_CLUSTER_H
#define MK_BENCH_GROUPS_ETCD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ETCD_MAX_MEMBERS 7

typedef struct etcd_cluster {
    int n;
    pid_t pid[ETCD_MAX_MEMBERS];        /* 0 once reaped */
    pid_t pgid;                         /* all members share one process group (the first member's pid) */
    int client_port[ETCD_MAX_MEMBERS];
    int peer_port[ETCD_MAX_MEMBERS];
    char member_id[ETCD_MAX_MEMBERS][24];  /* from /v3/maintenance/status */
    int leader;                         /* index of the leader, -1 unknown */
    char root[256];                     /* the run directory: eN/ data dirs and eN.log files */
    bool on_tmpfs;                      /* where root really is (statfs), whatever was asked */
    bool unsafe_no_fsync;               /* started with --unsafe-no-fsync */
} etcd_cluster_t;

/* Looks for the etcd binary ($MK_ETCD, else `etcd` on PATH) and runs `etcd --version` and `etcd --help`.
 * Returns false when it is missing or unusable; fills the version ("3.4.23") and whether the binary
 * knows --unsafe-no-fsync (3.4.23 does not; 3.5 does). */
bool etcd_probe(char *version, size_t cap, bool *has_unsafe_no_fsync);

/* Starts n members (≤ ETCD_MAX_MEMBERS). tmpfs: data under /dev/shm/mk-bench-<pid>-*; otherwise under
 * $MK_BENCH_DISK_DIR, else $TMPDIR, else /var/tmp. no_fsync adds --unsafe-no-fsync (only when the
 * binary has it). Waits up to timeout_s for GET /health = {"health":"true"} on every member and for a
 * leader. Returns 0, or -1 with a message in err (the cluster is then already stopped and removed). */
int etcd_cluster_start(etcd_cluster_t *c, int n, bool tmpfs, bool no_fsync, const char *token, double timeout_s,
                       char *err, size_t err_cap);

/* Asks every member for /v3/maintenance/status until one is the leader; sets c->leader. 0 or -1. */
int etcd_cluster_find_leader(etcd_cluster_t *c, double timeout_s);

/* Kills every member (SIGKILL to the process group: the data is discarded anyway), reaps them, removes root. */
void etcd_cluster_stop(etcd_cluster_t *c);

/* CPU seconds (user + system) used so far by all members, from /proc. */
double etcd_cluster_cpu_s(const etcd_cluster_t *c);

/* The value of a Prometheus counter/gauge line `name value` from GET /metrics on a member, -1 if absent. */
double etcd_metric(const etcd_cluster_t *c, int member, const char *name);

/* One blocking HTTP/1.1 exchange with 127.0.0.1:port (Connection: close). Copies the (de-chunked)
 * body, NUL-terminated and truncated to cap, into body. Returns the status code, or -1. */
int http_simple(int port, const char *method, const char *path, const char *req_body, char *body, size_t cap,
                int timeout_ms);

#endif
