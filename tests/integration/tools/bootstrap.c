/* integration/tools/bootstrap — the `mosaik` program as users run it: `keygen --seed` vectors (spec 70
 * §2.5), `bootstrap` printing exactly one address line whose id matches keygen for the same secret,
 * `inspect --json` listing the bootstrap node, a bad MOSAIK_BOOTSTRAP_* boolean refused with exit 2,
 * and SIGTERM ending the node with exit 0. */
#include "support/mkt.h"

#include <mosaik/network.h>

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tool[PATH_MAX];

static void find_tool(void) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    snprintf(tool, sizeof tool, "%s/mosaik", dirname(self));
    assert_int_equal(access(tool, X_OK), 0);
}

/* Runs the tool to completion; stdout into out (NUL-terminated); returns the exit status. */
static int run(char *const argv[], const char *env_kv, char *out, size_t cap) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        setenv("MK_DHT", "off", 1);
        if (env_kv) putenv((char *)env_kv);
        execv(tool, argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(p[0], out + len, cap - 1 - len)) > 0) len += (size_t)r;
    out[len] = 0;
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void keygen_vectors(void **state) {
    (void)state;
    find_tool();
    char out[1024];
    char *a1[] = {tool, "keygen", "--seed", "mysecret", NULL};
    assert_int_equal(run(a1, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "1173fd4d6c914533c6b05dff3b50fbc771999360ec25ad842115b4c802c211d6"));
    assert_non_null(strstr(out, "d128d7b6e3f77e017feba6147741ede4f8da3e6ff03d6e4f3be40a356a947b6a"));
    char *a2[] = {tool, "keygen", "--seed", "mosaik-bootstrap-1", NULL};
    assert_int_equal(run(a2, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "72d9fb2e01b5dd34d8b48ba2b397050c211e708f1b125ae0f8774e362425f5c2"));
    char *a3[] = {tool, "keygen", "--bogus", NULL};
    assert_int_equal(run(a3, NULL, out, sizeof out), 2);
}

static void bad_environment_boolean_exits_2(void **state) {
    (void)state;
    find_tool();
    char out[256];
    char *a[] = {tool, "bootstrap", "-n", "toolnet", "-l", "127.0.0.1:0", NULL};
    assert_int_equal(run(a, "MOSAIK_BOOTSTRAP_NO_DHT=perhaps", out, sizeof out), 2);
}

static void bootstrap_line_inspect_and_sigterm(void **state) {
    (void)state;
    find_tool();
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        setenv("MK_DHT", "off", 1);
        execl(tool, tool, "bootstrap", "-n", "toolnet", "-s", "mosaik-bootstrap-1", "-l", "127.0.0.1:0", "--no-dht",
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[MK_ADDR_STR_MAX + 2] = {0};
    size_t len = 0;
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    while (!strchr(line, '\n') && poll(&pfd, 1, mkt_ms(5000)) == 1) {
        ssize_t r = read(p[0], line + len, sizeof line - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    assert_non_null(strchr(line, '\n'));
    *strchr(line, '\n') = 0;
    assert_int_equal(strncmp(line, "72d9fb2e01b5dd34d8b48ba2b397050c211e708f1b125ae0f8774e362425f5c2@127.0.0.1:", 75), 0);
    char out[8192];
    char *a[] = {tool, "inspect", "-n", "toolnet", "-p", line, "-l", "127.0.0.1:0", "--no-dht", "--json", "--wait", "3", NULL};
    assert_int_equal(run(a, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"schema\":\"mosaik.inspect/1\""));
    assert_non_null(strstr(out, "\"id\":\"72d9fb2e01b5dd34d8b48ba2b397050c211e708f1b125ae0f8774e362425f5c2\""));
    assert_non_null(strstr(out, "\"tags\":[\"bootstrap\"]"));
    kill(pid, SIGTERM);
    int st = 0;
    double t0 = mkt_now();
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (mkt_now() - t0 > T(5)) {
            kill(pid, SIGKILL);
            fail_msg("bootstrap did not stop within %.0f s of SIGTERM", T(5));
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* nothing more than the address line on stdout */
    char rest[64];
    assert_true(read(p[0], rest, sizeof rest) <= 0);
    close(p[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_vectors),
        cmocka_unit_test(bad_environment_boolean_exits_2),
        cmocka_unit_test(bootstrap_line_inspect_and_sigterm),
    };
    return mkt_run("integration.tools.bootstrap", tests, sizeof tests / sizeof tests[0]);
}
