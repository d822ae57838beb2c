/* bench/groups/etcd_cluster.c — starting, health-checking, inspecting and stopping the etcd members of
 * bench_groups (see etcd_cluster.h). Only 127.0.0.1 is ever bound or dialled. */
#include "etcd_cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMPFS_MAGIC_ 0x01021994L

static char etcd_bin[PATH_MAX] = "etcd";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- cleanup when the bench is interrupted ---- */

static etcd_cluster_t *volatile active;  /* the one cluster that runs, if any */

static void on_fatal_signal(int sig) {  /* only async-signal-safe calls */
    etcd_cluster_t *c = active;
    if (c) {
        if (c->pgid > 0) kill(-c->pgid, SIGKILL);
        for (int i = 0; i < c->n; i++)
            if (c->pid[i] > 0) waitpid(c->pid[i], NULL, 0);
        pid_t rm = fork();
        if (rm == 0) {
            execl("/bin/rm", "rm", "-rf", "--", c->root, (char *)NULL);
            _exit(127);
        }
        if (rm > 0) waitpid(rm, NULL, 0);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void at_exit_cleanup(void) {
    if (active) etcd_cluster_stop(active);
}

static void install_cleanup(void) {
    static bool done;
    if (done) return;
    done = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    atexit(at_exit_cleanup);
}

/* ---- the binary ---- */

/* Runs argv, captures stdout+stderr (truncated to cap). Returns the exit status, -1 if it did not run. */
static int run_capture(char *const argv[], char *out, size_t cap) {
    int p[2];
    if (pipe(p) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        char tmp[4096];
        ssize_t k = read(p[0], tmp, sizeof tmp);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        size_t take = (size_t)k;
        if (n + take > cap - 1) take = cap - 1 - n;
        memcpy(out + n, tmp, take);
        n += take;
    }
    out[n] = 0;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool etcd_probe(char *version, size_t cap, bool *has_unsafe_no_fsync) {
    const char *env = getenv("MK_ETCD");
    snprintf(etcd_bin, sizeof etcd_bin, "%s", env && *env ? env : "etcd");
    if (cap) version[0] = 0;
    if (has_unsafe_no_fsync) *has_unsafe_no_fsync = false;
    static char out[65536];
    char *ver[] = {etcd_bin, "--version", NULL};
    if (run_capture(ver, out, sizeof out) != 0) return false;
    const char *v = strstr(out, "etcd Version:");
    if (!v) return false;
    v += strlen("etcd Version:");
    while (*v == ' ') v++;
    size_t len = strcspn(v, " \r\n");
    if (cap) snprintf(version, cap, "%.*s", (int)len, v);
    char *help[] = {etcd_bin, "--help", NULL};
    run_capture(help, out, sizeof out);  /* exits 0 on 3.4; the text is what matters */
    if (has_unsafe_no_fsync) *has_unsafe_no_fsync = strstr(out, "--unsafe-no-fsync") != NULL;
    return true;
}

/* ---- ports and directories ---- */

/* n free TCP ports on 127.0.0.1: all bound to port 0 at once (so they differ), then released. */
static int free_ports(int *ports, int n) {
    int fds[2 * ETCD_MAX_MEMBERS];
    int ok = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof a;
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &l) != 0)
            ok = -1;
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    return ok;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *root) {
    if (root[0]) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A process that exists and is not a zombie (an unreaped dead bench must not keep its directory). */
static bool pid_alive(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* Removes run directories left by a bench that was SIGKILLed (its members died with it through
 * PR_SET_PDEATHSIG, but nobody removed their data): mk-bench-<pid>-etcd-* whose pid is gone. */
static void sweep_stale(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int pid = 0, len = 0;
        if (sscanf(e->d_name, "mk-bench-%d-etcd-%n", &pid, &len) != 1 || len == 0 || pid <= 0) continue;
        if (pid_alive((pid_t)pid)) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static const char *disk_base(void) {
    const char *b = getenv("MK_BENCH_DISK_DIR");
    if (b && *b) return b;
    b = getenv("TMPDIR");
    if (b && *b) return b;
    return "/var/tmp";
}

/* ---- HTTP for the control requests ---- */

static int dial(int port, int timeout_ms) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pf = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t l = sizeof err;
    if (poll(&pf, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Decodes a chunked body in place; returns its length. */
static size_t dechunk(char *b, size_t n) {
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long sz = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || end == b + in) break;
        in = (size_t)(crlf - b) + 2;
        if (sz == 0 || in + sz > n) break;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz + 2;
    }
    b[out] = 0;
    return out;
}

int http_simple(int port, const char *method, const char *path, const char *req_body, char *body, size_t cap,
                int timeout_ms) {
    if (cap) body[0] = 0;
    int fd = dial(port, timeout_ms);
    if (fd < 0) return -1;
    char req[1024];
    size_t blen = req_body ? strlen(req_body) : 0;
    int rl = snprintf(req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      method, path, port, blen, req_body ? req_body : "");
    if (rl <= 0 || (size_t)rl >= sizeof req || send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
        close(fd);
        return -1;
    }
    size_t n = 0, bcap = 1 << 16;
    char *buf = malloc(bcap);
    double deadline = now_s() + timeout_ms / 1e3;
    while (buf) {
        int left = (int)((deadline - now_s()) * 1e3);
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, left) != 1) break;
        if (n + 1 >= bcap) {
            if (bcap >= (8u << 20)) break;
            char *nb = realloc(buf, bcap * 2);
            if (!nb) break;
            buf = nb;
            bcap *= 2;
        }
        ssize_t k = recv(fd, buf + n, bcap - 1 - n, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (!buf) return -1;
    buf[n] = 0;
    int status = -1;
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (hdr_end && sscanf(buf, "HTTP/1.%*d %d", &status) == 1) {
        *hdr_end = 0;
        char *b = hdr_end + 4;
        size_t bl = n - (size_t)(b - buf);
        for (char *h = strstr(buf, "\r\n"); h; h = strstr(h + 2, "\r\n"))
            if (!strncasecmp(h + 2, "Transfer-Encoding:", 18) && strstr(h + 2, "chunked")) {
                bl = dechunk(b, bl);
                break;
            }
        if (cap) {
            size_t take = bl < cap - 1 ? bl : cap - 1;
            memcpy(body, b, take);
            body[take] = 0;
        }
    }
    free(buf);
    return status;
}

/* Copies the string value of "name":"…" in a JSON text (enough for etcd's flat status fields). */
static bool json_field(const char *json, const char *name, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(json, pat);
    if (!p) return false;
    p += strlen(pat);
    size_t len = strcspn(p, "\"");
    snprintf(out, cap, "%.*s", (int)len, p);
    return len > 0;
}

/* ---- members ---- */

static void log_tail(const etcd_cluster_t *c, int i, char *out, size_t cap) {
    char path[300];
    snprintf(path, sizeof path, "%s/e%d.log", c->root, i + 1);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    const char *last = strrchr(buf, '\n');
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "; e%d.log: %s", i + 1, last ? last + 1 : buf);
}

static pid_t spawn_member(etcd_cluster_t *c, int i, const char *token, const char *initial_cluster) {
    char name[16], dir[300], curl[64], purl[64], logp[300];
    snprintf(name, sizeof name, "e%d", i + 1);
    snprintf(dir, sizeof dir, "%s/e%d", c->root, i + 1);
    snprintf(logp, sizeof logp, "%s/e%d.log", c->root, i + 1);
    snprintf(curl, sizeof curl, "http://127.0.0.1:%d", c->client_port[i]);
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d", c->peer_port[i]);
    char *argv[32];
    int a = 0;
    argv[a++] = etcd_bin;
    argv[a++] = "--name", argv[a++] = name;
    argv[a++] = "--data-dir", argv[a++] = dir;
    argv[a++] = "--listen-client-urls", argv[a++] = curl;
    argv[a++] = "--advertise-client-urls", argv[a++] = curl;
    argv[a++] = "--listen-peer-urls", argv[a++] = purl;
    argv[a++] = "--initial-advertise-peer-urls", argv[a++] = purl;
    argv[a++] = "--initial-cluster", argv[a++] = (char *)initial_cluster;
    argv[a++] = "--initial-cluster-state", argv[a++] = "new";
    argv[a++] = "--initial-cluster-token", argv[a++] = (char *)token;
    argv[a++] = "--logger", argv[a++] = "zap";
    argv[a++] = "--log-level", argv[a++] = "error";
    argv[a++] = "--quota-backend-bytes", argv[a++] = "8589934592";
    if (c->unsafe_no_fsync) argv[a++] = "--unsafe-no-fsync";
    argv[a] = NULL;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, c->pgid);  /* the first member founds the group (pgid 0 = its own pid) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        int in = open("/dev/null", O_RDONLY), out = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execvp(etcd_bin, argv);
        _exit(127);
    }
    if (pid > 0) {
        if (c->pgid == 0) c->pgid = pid;
        setpgid(pid, c->pgid);  /* also from the parent: no race with killpg */
    }
    return pid;
}

int etcd_cluster_start(etcd_cluster_t *c, int n, bool tmpfs, bool no_fsync, const char *token, double timeout_s,
                       char *err, size_t err_cap) {
    memset(c, 0, sizeof *c);
    c->leader = -1;
    err[0] = 0;
    if (n < 1 || n > ETCD_MAX_MEMBERS) {
        snprintf(err, err_cap, "bad member count %d", n);
        return -1;
    }
    install_cleanup();
    c->n = n;
    c->unsafe_no_fsync = no_fsync;
    sweep_stale(tmpfs ? "/dev/shm" : disk_base());
    if (tmpfs) snprintf(c->root, sizeof c->root, "/dev/shm/mk-bench-%d-etcd-XXXXXX", (int)getpid());
    else snprintf(c->root, sizeof c->root, "%s/mk-bench-%d-etcd-XXXXXX", disk_base(), (int)getpid());
    if (!mkdtemp(c->root)) {
        snprintf(err, err_cap, "mkdtemp %s: %s", c->root, strerror(errno));
        c->root[0] = 0;
        return -1;
    }
    struct statfs sf;
    c->on_tmpfs = statfs(c->root, &sf) == 0 && (long)sf.f_type == TMPFS_MAGIC_;
    int ports[2 * ETCD_MAX_MEMBERS];
    if (free_ports(ports, 2 * n) != 0) {
        snprintf(err, err_cap, "no free ports on 127.0.0.1");
        remove_tree(c->root);
        return -1;
    }
    char initial[1024] = "";
    for (int i = 0; i < n; i++) {
        c->client_port[i] = ports[2 * i];
        c->peer_port[i] = ports[2 * i + 1];
        size_t len = strlen(initial);
        snprintf(initial + len, sizeof initial - len, "%se%d=http://127.0.0.1:%d", i ? "," : "", i + 1, c->peer_port[i]);
    }
    active = c;
    for (int i = 0; i < n; i++) {
        c->pid[i] = spawn_member(c, i, token, initial);
        if (c->pid[i] < 0) {
            c->pid[i] = 0;
            snprintf(err, err_cap, "fork: %s", strerror(errno));
            etcd_cluster_stop(c);
            return -1;
        }
    }
    /* every member healthy (GET /health needs a leader and a quorum read), nobody dead */
    double deadline = now_s() + timeout_s;
    bool healthy[ETCD_MAX_MEMBERS] = {0};
    int n_healthy = 0;
    while (n_healthy < n) {
        for (int i = 0; i < n; i++) {
            int st;
            if (c->pid[i] > 0 && waitpid(c->pid[i], &st, WNOHANG) == c->pid[i]) {
                c->pid[i] = 0;
                snprintf(err, err_cap, "member e%d exited (%s %d) during start-up", i + 1,
                         WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                log_tail(c, i, err, err_cap);
                etcd_cluster_stop(c);
                return -1;
            }
            if (healthy[i]) continue;
            char body[256];
            if (http_simple(c->client_port[i], "GET", "/health", NULL, body, sizeof body, 500) == 200 &&
                strstr(body, "\"health\":\"true\"")) {
                healthy[i] = true;
                n_healthy++;
            }
        }
        if (n_healthy == n) break;
        if (now_s() > deadline) {
            snprintf(err, err_cap, "only %d of %d members healthy after %.0f s", n_healthy, n, timeout_s);
            for (int i = 0; i < n; i++)
                if (!healthy[i]) log_tail(c, i, err, err_cap);
            etcd_cluster_stop(c);
            return -1;
        }
        sleep_ms(50);
    }
    if (etcd_cluster_find_leader(c, deadline - now_s() > 2 ? deadline - now_s() : 2) != 0) {
        snprintf(err, err_cap, "no leader reported by /v3/maintenance/status");
        etcd_cluster_stop(c);
        return -1;
    }
    return 0;
}

int etcd_cluster_find_leader(etcd_cluster_t *c, double timeout_s) {
    double deadline = now_s() + timeout_s;
    c->leader = -1;
    do {
        char leader[24] = "";
        for (int i = 0; i < c->n; i++) {
            char body[1024], lead[24];
            if (http_simple(c->client_port[i], "POST", "/v3/maintenance/status", "{}", body, sizeof body, 1000) != 200)
                continue;
            json_field(body, "member_id", c->member_id[i], sizeof c->member_id[i]);
            if (json_field(body, "leader", lead, sizeof lead) && strcmp(lead, "0") != 0) snprintf(leader, sizeof leader, "%s", lead);
        }
        for (int i = 0; i < c->n && leader[0]; i++)
            if (!strcmp(c->member_id[i], leader)) c->leader = i;
        if (c->leader >= 0) return 0;
        sleep_ms(100);
    } while (now_s() < deadline);
    return -1;
}

/* SIGKILL at once: the data is thrown away, and a graceful stop (SIGTERM) makes the leader wait ~7 s
 * for a leadership transfer to followers that are already gone. */
void etcd_cluster_stop(etcd_cluster_t *c) {
    if (c->pgid > 0) kill(-c->pgid, SIGKILL);
    for (int i = 0; i < c->n; i++)
        if (c->pid[i] > 0) {
            if (c->pgid <= 0) kill(c->pid[i], SIGKILL);
            while (waitpid(c->pid[i], NULL, 0) < 0 && errno == EINTR) {}
            c->pid[i] = 0;
        }
    c->pgid = 0;
    remove_tree(c->root);
    c->root[0] = 0;
    if (active == c) active = NULL;
}

static double proc_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double etcd_cluster_cpu_s(const etcd_cluster_t *c) {
    double s = 0;
    for (int i = 0; i < c->n; i++)
        if (c->pid[i] > 0) s += proc_cpu(c->pid[i]);
    return s;
}

double etcd_metric(const etcd_cluster_t *c, int member, const char *name) {
    static char body[1 << 20];
    if (member < 0 || member >= c->n) return -1;
    if (http_simple(c->client_port[member], "GET", "/metrics", NULL, body, sizeof body, 2000) != 200) return -1;
    size_t nl = strlen(name);
    for (const char *p = body; (p = strstr(p, name)) != NULL; p += nl)
        if ((p == body || p[-1] == '\n') && p[nl] == ' ') return strtod(p + nl + 1, NULL);
    return -1;
}
