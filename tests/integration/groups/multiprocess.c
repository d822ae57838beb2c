/* integration/groups/multiprocess — issue 7's multi-process test on loopback: three processes (this
 * binary re-executed as `node I DIR PORTS`) form a durable (LMDB) exactly-once group whose machine
 * records every command id. Each node writes commands continuously and appends the id of every
 * acknowledged one to DIR/acks.I. The test kill -9s the leader, checks the survivors keep committing,
 * restarts the killed process on its LMDB directory, then stops the writers and compares the final
 * states: identical on all nodes, every acknowledged id present exactly once, no id twice. */
#include "support/mkt_group.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 3

/* ---- the node process ---- */

typedef struct ids {
    uint64_t *v;
    size_t n, cap;
} ids_t;

static mk_id_t ids_sig(void *self) {
    (void)self;
    return mk_id_from_str("mkt.multiprocess.ids.v1");
}

static void ids_apply(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len) {
    (void)ctx;
    ids_t *s = self;
    if (len != 8) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) abort();
        s->v = v;
        s->cap = cap;
    }
    memcpy(&s->v[s->n++], cmd, 8);
}

static int ids_query(void *self, const void *q, size_t len, mk_buf_t *out) {
    (void)q;
    (void)len;
    ids_t *s = self;
    out->ptr = malloc(s->n * 8 + 1);
    if (!out->ptr) return MK_ENOMEM;
    if (s->n) memcpy(out->ptr, s->v, s->n * 8);
    out->len = s->n * 8;
    return MK_OK;
}

static const mk_state_machine_t IDS = {.signature = ids_sig, .apply = ids_apply, .query = ids_query};

static bool file_exists(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char p[512], tmp[520];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
    rename(tmp, p);
}

static mk_secret_key_t node_key(int i) {
    char s[32];
    snprintf(s, sizeof s, "mkt.multiprocess.node.%d", i);
    mk_secret_key_t k;
    mk_secret_key_from_str(s, &k);
    return k;
}

static int node_main(int idx, const char *dir, const int *ports) {
    mk_secret_key_t key = node_key(idx);
    char bind[32], boots[N][128];
    const char *boot[N + 1] = {0};
    snprintf(bind, sizeof bind, "127.0.0.1:%d", ports[idx]);
    int nb = 0;
    for (int j = 0; j < N; j++) {
        if (j == idx) continue;
        mk_secret_key_t k = node_key(j);
        mk_peer_id_t id = mk_secret_key_public(&k);
        char hex[MK_ID_HEX_LEN + 1];
        mk_id_hex(&id, hex);
        snprintf(boots[j], sizeof boots[j], "%s@127.0.0.1:%d", hex, ports[j]);
        boot[nb++] = boots[j];
    }
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = "mkt.multiprocess";
    cfg.secret_key = &key;
    cfg.bind[0] = bind;
    mkt_disc_fast(&cfg);
    cfg.discovery.bootstrap = boot;
    mk_error_t e;
    mk_network_t *net = mk_network_new(&cfg, &e);
    if (!net) {
        fprintf(stderr, "node %d: mk_network_new: %s\n", idx, e.msg);
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/lmdb.%d", dir, idx);
    mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
    lc.path = path;
    lc.map_size = (size_t)64 << 20;
    mk_log_store_t *store = mk_log_store_lmdb(&lc, &e);
    if (!store) {
        fprintf(stderr, "node %d: lmdb: %s\n", idx, e.msg);
        return 2;
    }
    ids_t state = {0};
    mk_group_config_t gc = MK_GROUP_CONFIG_DEFAULT;
    gc.key = mk_group_key_from_secret("mkt.multiprocess.group");
    gc.machine = &IDS;
    gc.machine_self = &state;
    gc.store = store;
    mkt_group_fast(&gc);
    gc.consensus.exactly_once = true;
    gc.consensus.bootstrap_expect = N;
    mk_group_t *g = mk_group_join(net, &gc, &e);
    if (!g) {
        fprintf(stderr, "node %d: join: %s\n", idx, e.msg);
        return 2;
    }
    /* acknowledged ids, appended with write(2): they survive a kill -9 of this process */
    snprintf(path, sizeof path, "%s/acks.%d", dir, idx);
    int acks = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    snprintf(path, sizeof path, "%s/starts.%d", dir, idx);
    int starts = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
    uint64_t life = (uint64_t)lseek(starts, 0, SEEK_END) / 8;
    if (acks < 0 || starts < 0 || write(starts, &life, 8) != 8) return 2;
    uint64_t k = 0;
    char name[32];
    while (!file_exists(dir, "stop")) {
        uint64_t id = (uint64_t)idx << 56 | life << 40 | ++k;
        mk_bytes_t cmd = {&id, 8};
        mk_cmd_outcome_t out;
        int rc = mk_group_execute_many(g, &cmd, 1, mkt_ms(5000), &out, &e);
        while (rc == MK_EOFFLINE || rc == MK_ETIMEDOUT) {  /* same (session, seq): applied at most once */
            if (file_exists(dir, "stop")) break;
            mk_cmd_outcome_t prev = out;
            rc = mk_group_resubmit(g, &prev, &cmd, 1, true, mkt_ms(5000), &out, &e);
        }
        if (rc == MK_OK && write(acks, &id, 8) != 8) return 2;
        mk_group_status_t st;
        mk_group_status(g, &st);
        snprintf(name, sizeof name, "leader.%d", idx);
        char line[64];
        int len = snprintf(line, sizeof line, "%d %llu\n", st.role == MK_ROLE_LEADER,
                           (unsigned long long)st.committed);
        write_file(dir, name, line, (size_t)len);
        usleep(2000);
    }
    snprintf(name, sizeof name, "stopped.%d", idx);
    write_file(dir, name, "1", 1);
    while (!file_exists(dir, "dump")) usleep(10000);
    /* the final state: a strong read makes this node's state include everything committed */
    mk_query_result_t r;
    int rc = mk_group_query(g, NULL, 0, MK_STRONG, mkt_ms(10000), &r, &e);
    if (rc != MK_OK) {
        fprintf(stderr, "node %d: final query: %s\n", idx, e.msg);
        return 3;
    }
    snprintf(name, sizeof name, "state.%d", idx);
    write_file(dir, name, r.data, r.len);
    mk_query_result_free(&r);
    while (!file_exists(dir, "exit")) usleep(10000);
    close(acks);
    close(starts);
    mk_group_leave(g);
    mk_network_free(net);
    free(state.v);
    return 0;
}

/* ---- the test ---- */

static char dir[256];
static int ports[N];
static pid_t pids[N];
static uint64_t *states[N], *sorted;

static void touch(const char *name) { write_file(dir, name, "1", 1); }

static pid_t spawn(int i) {
    pid_t p = fork();
    if (p == 0) {
        char idx[8], pa[N][8];
        snprintf(idx, sizeof idx, "%d", i);
        for (int j = 0; j < N; j++) snprintf(pa[j], sizeof pa[j], "%d", ports[j]);
        execl("/proc/self/exe", "multiprocess", "node", idx, dir, pa[0], pa[1], pa[2], (char *)NULL);
        _exit(127);
    }
    return p;
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0)
        fail_msg("no free port");
    close(s);
    return ntohs(a.sin_port);
}

static size_t read_ids(const char *name, uint64_t **out) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    *out = NULL;
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t n = (size_t)(len > 0 ? len : 0) / 8;
    *out = malloc(n * 8 + 8);
    if (n && fread(*out, 8, n, f) != n) n = 0;
    fclose(f);
    return n;
}

/* -1 until node i reports; else whether it leads, and its committed index. */
static int leader_of(int i, unsigned long long *committed) {
    char p[512];
    snprintf(p, sizeof p, "%s/leader.%d", dir, i);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    int l = -1;
    if (fscanf(f, "%d %llu", &l, committed) != 2) l = -1;
    fclose(f);
    return l;
}

static size_t acks_of(int i) {
    uint64_t *v;
    char name[32];
    snprintf(name, sizeof name, "acks.%d", i);
    size_t n = read_ids(name, &v);
    free(v);
    return n;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int teardown(void **state) {
    (void)state;
    free(sorted);
    sorted = NULL;
    for (int i = 0; i < N; i++) free(states[i]), states[i] = NULL;
    for (int i = 0; i < N; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}

static void kill_leader_restart_no_ack_lost(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mk-mp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < N; i++) ports[i] = free_port();
    for (int i = 0; i < N; i++) pids[i] = spawn(i);
    /* every node acknowledges writes */
    MKT_WAIT_UNTIL(acks_of(0) >= 30 && acks_of(1) >= 30 && acks_of(2) >= 30, 30);
    int leader = -1;
    unsigned long long c;
    MKT_WAIT_UNTIL((leader = leader_of(0, &c) == 1 ? 0 : leader_of(1, &c) == 1 ? 1 : leader_of(2, &c) == 1 ? 2 : -1) >= 0,
                   10);
    kill(pids[leader], SIGKILL);
    waitpid(pids[leader], NULL, 0);
    pids[leader] = 0;
    /* the survivors elect a new leader and keep acknowledging */
    size_t before[N];
    for (int i = 0; i < N; i++) before[i] = acks_of(i);
    for (int i = 0; i < N; i++)
        if (i != leader) MKT_WAIT_UNTIL(acks_of(i) >= before[i] + 30, 30);
    /* restart the killed process on its LMDB directory: it rejoins and writes again */
    size_t killed_acks = acks_of(leader);
    pids[leader] = spawn(leader);
    MKT_WAIT_UNTIL(acks_of(leader) >= killed_acks + 30, 30);
    touch("stop");
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "stopped.%d", i);
        MKT_WAIT_UNTIL(file_exists(dir, name), 30);
    }
    touch("dump");
    size_t nstates[N];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "state.%d", i);
        MKT_WAIT_UNTIL(file_exists(dir, name), 30);
        nstates[i] = read_ids(name, &states[i]);
    }
    touch("exit");
    for (int i = 0; i < N; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        pids[i] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* identical states (same order), no id twice, every acknowledged id present */
    for (int i = 1; i < N; i++) {
        assert_int_equal(nstates[i], nstates[0]);
        assert_memory_equal(states[i], states[0], nstates[0] * 8);
    }
    sorted = malloc(nstates[0] * 8 + 8);
    memcpy(sorted, states[0], nstates[0] * 8);
    qsort(sorted, nstates[0], 8, cmp_u64);
    for (size_t k = 1; k < nstates[0]; k++)
        if (sorted[k] == sorted[k - 1]) fail_msg("id %016llx applied twice", (unsigned long long)sorted[k]);
    size_t total_acks = 0;
    for (int i = 0; i < N; i++) {
        uint64_t *acks;
        snprintf(name, sizeof name, "acks.%d", i);
        size_t n = read_ids(name, &acks);
        total_acks += n;
        for (size_t k = 0; k < n; k++)
            if (!bsearch(&acks[k], sorted, nstates[0], 8, cmp_u64))
                fail_msg("acknowledged id %016llx of node %d is missing", (unsigned long long)acks[k], i);
        free(acks);
    }
    print_message("%zu acknowledged writes, %zu applied, all present exactly once\n", total_acks, nstates[0]);
    assert_true(total_acks >= 150);
}

int main(int argc, char **argv) {
    if (argc == 7 && !strcmp(argv[1], "node")) {
        int p[N] = {atoi(argv[4]), atoi(argv[5]), atoi(argv[6])};
        return node_main(atoi(argv[2]), argv[3], p);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(kill_leader_restart_no_ack_lost, teardown),
    };
    return mkt_run("integration.groups.multiprocess", tests, sizeof tests / sizeof tests[0]);
}
