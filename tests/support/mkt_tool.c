/* support/mkt_tool.c — running the `mosaik` program from integration tests (see mkt_tool.h). */
#include "support/mkt_tool.h"

#include "support/mkt.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tool[PATH_MAX];

const char *mkt_tool_path(void) {
    if (!tool[0]) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        assert_true(n > 0);
        self[n] = 0;
        snprintf(tool, sizeof tool, "%s/mosaik", dirname(self));
    }
    assert_int_equal(access(tool, X_OK), 0);
    return tool;
}

static void child_env(const char *const *env) {
    setenv("MK_DHT", "off", 1);
    for (size_t i = 0; env && env[i]; i++) putenv((char *)env[i]);
}

static int wait_exit(pid_t pid, double timeout_s) {
    int st = 0;
    double t0 = mkt_now();
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (mkt_now() - t0 > T(timeout_s)) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int mkt_tool_run(char *const argv[], const char *const *env, const char *stdin_text, double timeout_s, char *out,
                 size_t cap, char *err, size_t errcap) {
    int po[2], pi[2];
    char errpath[] = "/tmp/mkt-tool-err-XXXXXX";
    int errfd = mkstemp(errpath);
    assert_true(errfd >= 0);
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pi), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pi[0], 0);
        dup2(errfd, 2);
        close(po[0]);
        close(pi[1]);
        child_env(env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pi[0]);
    if (stdin_text && write(pi[1], stdin_text, strlen(stdin_text)) < 0) {}
    close(pi[1]);
    size_t len = 0;
    double t0 = mkt_now();
    for (;;) {
        struct pollfd p = {.fd = po[0], .events = POLLIN};
        int left = (int)((T(timeout_s) - (mkt_now() - t0)) * 1000);
        if (left <= 0 || poll(&p, 1, left) != 1) break;
        ssize_t r = read(po[0], out + len, len + 1 < cap ? cap - 1 - len : 0);
        if (r <= 0) break;
        len += (size_t)r;
    }
    out[len] = 0;
    close(po[0]);
    int rc = wait_exit(pid, timeout_s);
    if (err) {
        ssize_t n = pread(errfd, err, errcap - 1, 0);
        err[n > 0 ? n : 0] = 0;
    }
    close(errfd);
    unlink(errpath);
    return rc < 0 ? 128 + SIGKILL : rc;
}

void mkt_tool_start(mkt_tool_proc_t *p, char *const argv[], const char *const *env, char *line, size_t cap) {
    int po[2];
    snprintf(p->errpath, sizeof p->errpath, "/tmp/mkt-tool-err-XXXXXX");
    int errfd = mkstemp(p->errpath);
    assert_true(errfd >= 0);
    assert_int_equal(pipe(po), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(po[1], 1);
        dup2(errfd, 2);
        close(po[0]);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        child_env(env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(errfd);
    close(po[1]);
    p->out_fd = po[0];
    size_t len = 0;
    line[0] = 0;
    struct pollfd pfd = {.fd = po[0], .events = POLLIN};
    while (!memchr(line, '\n', len) && len + 1 < cap && poll(&pfd, 1, mkt_ms(5000)) == 1) {
        ssize_t r = read(po[0], line + len, 1);  /* byte by byte: leave the rest in the pipe */
        if (r <= 0) break;
        len += (size_t)r;
        line[len] = 0;
    }
    char *nl = strchr(line, '\n');
    if (!nl) fail_msg("mosaik printed no line within %.0f s (stderr in %s)", T(5), p->errpath);
    *nl = 0;
}

int mkt_tool_stop(mkt_tool_proc_t *p, int sig, double timeout_s, char **err) {
    kill(p->pid, sig);
    int rc = wait_exit(p->pid, timeout_s);
    if (rc < 0) fail_msg("mosaik did not exit within %.0f s of signal %d (stderr in %s)", T(timeout_s), sig, p->errpath);
    if (err) {
        FILE *f = fopen(p->errpath, "r");
        *err = calloc(1, 65536);
        if (f && *err) (*err)[fread(*err, 1, 65535, f)] = 0;
        if (f) fclose(f);
    }
    unlink(p->errpath);
    return rc;
}
