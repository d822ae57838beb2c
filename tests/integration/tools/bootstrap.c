/* integration/tools/bootstrap — `mosaik bootstrap`, `beacon`, `keygen` and `id` as users run them
 * (spec 70 §1, §2.1, §2.2, §2.5): keygen and id vectors, --out files, every MOSAIK_BOOTSTRAP_* variable,
 * usage errors (exit 2), one address line on stdout, a stable id across restarts, and SIGTERM with
 * three connected nodes: exit 0 in time and a graceful departure seen by all three. */
#include "support/mkt_disc.h"
#include "support/mkt_tool.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOOT1_ID "72d9fb2e01b5dd34d8b48ba2b397050c211e708f1b125ae0f8774e362425f5c2"

static char out[16384], err[16384];

static int tool(const char *const *env, const char *in, const char *a0, ...) {
    char *argv[32] = {(char *)mkt_tool_path()};
    int k = 1;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && k < 31; a = va_arg(ap, const char *)) argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    return mkt_tool_run(argv, env, in, 20, out, sizeof out, err, sizeof err);
}

static void net_hex(char *hex) {
    mk_network_id_t id = mkt_network_id();
    mk_id_hex(&id, hex);
}

static void keygen_vectors_json_and_out_file(void **state) {
    (void)state;
    assert_int_equal(tool(NULL, NULL, "keygen", "--seed", "mysecret", NULL), 0);
    assert_non_null(strstr(out, "secret  1173fd4d6c914533c6b05dff3b50fbc771999360ec25ad842115b4c802c211d6\n"));
    assert_non_null(strstr(out, "peer-id d128d7b6e3f77e017feba6147741ede4f8da3e6ff03d6e4f3be40a356a947b6a\n"));
    assert_int_equal(tool(NULL, NULL, "keygen", "--seed", "mosaik-bootstrap-1", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"peer_id\":\"" BOOT1_ID "\""));
    assert_int_equal(tool(NULL, NULL, "keygen", NULL), 0);  /* random: two lines of 64 hex */
    assert_int_equal(strlen(out), strlen("secret  \npeer-id \n") + 128);
    char path[] = "/tmp/mkt-keygen-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(tool(NULL, NULL, "keygen", "--seed", "mysecret", "--out", path, NULL), 2);  /* exists */
    assert_int_equal(tool(NULL, NULL, "keygen", "--seed", "mysecret", "--out", path, "--force", NULL), 0);
    assert_null(strstr(out, "secret"));  /* only the peer id is printed */
    assert_non_null(strstr(out, "d128d7b6e3f77e017feba6147741ede4f8da3e6ff03d6e4f3be40a356a947b6a"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    char line[128] = {0};
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "1173fd4d6c914533c6b05dff3b50fbc771999360ec25ad842115b4c802c211d6\n");
    /* the 64 hex digits are the key itself: the same id again */
    line[64] = 0;
    assert_int_equal(tool(NULL, NULL, "keygen", "--seed", line, NULL), 0);
    assert_non_null(strstr(out, "d128d7b6e3f77e017feba6147741ede4f8da3e6ff03d6e4f3be40a356a947b6a"));
    unlink(path);
    assert_int_equal(tool(NULL, NULL, "keygen", "--force", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "keygen", "--bogus", NULL), 2);
}

static void id_vectors_forms_and_stdin(void **state) {
    (void)state;
    assert_int_equal(tool(NULL, NULL, "id", "", NULL), 0);
    assert_string_equal(out, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\n");
    assert_int_equal(tool(NULL, NULL, "id", "abc", "mosaik.example.group-chat", NULL), 0);
    assert_string_equal(out, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  abc\n"
                             "ea0eb0a3a45c7d8be102e35372e94541344ec0d11aa4e12af4906dbe7a35c52e  mosaik.example.group-chat\n");
    assert_int_equal(tool(NULL, NULL, "id", "--derive", "mosaik.example.group-chat", "lobby", NULL), 0);
    assert_string_equal(out, "877442de48f7be078d296b2cd6fbb650ad0c9fc057972139bd32e0acef0970af\n");
    assert_int_equal(tool(NULL, NULL, "id", "--short", "abc", NULL), 0);
    assert_string_equal(out, "6437b3ac38\n");
    /* 64 hex digits are decoded, unless --hash */
    assert_int_equal(tool(NULL, NULL, "id", BOOT1_ID, NULL), 0);
    assert_string_equal(out, BOOT1_ID "\n");
    assert_int_equal(tool(NULL, NULL, "id", "--hash", BOOT1_ID, NULL), 0);
    assert_string_not_equal(out, BOOT1_ID "\n");
    assert_int_equal(tool(NULL, "abc\n\n", "id", "-", NULL), 0);
    assert_string_equal(out, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  abc\n"
                             "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  \n");
    assert_int_equal(tool(NULL, NULL, "id", NULL), 2);
}

static void usage_errors_exit_2_and_name_the_cause(void **state) {
    (void)state;
    const char *bad_bool[] = {"MOSAIK_BOOTSTRAP_NO_DHT=perhaps", NULL};
    assert_int_equal(tool(bad_bool, NULL, "bootstrap", "-n", "x", "-l", "127.0.0.1:0", NULL), 2);
    assert_non_null(strstr(err, "MOSAIK_BOOTSTRAP_NO_DHT"));
    const char *bad_log[] = {"MOSAIK_BOOTSTRAP_LOGGING=7", NULL};
    assert_int_equal(tool(bad_log, NULL, "bootstrap", "-n", "x", "-l", "127.0.0.1:0", NULL), 2);
    assert_non_null(strstr(err, "MOSAIK_BOOTSTRAP_LOGGING"));
    const char *bare[] = {"MOSAIK_BOOTSTRAP_PEERS=" BOOT1_ID, NULL};
    assert_int_equal(tool(bare, NULL, "bootstrap", "-n", "x", NULL), 2);
    assert_non_null(strstr(err, "bare peer id"));
    assert_int_equal(tool(NULL, NULL, "bootstrap", "-n", "x", "-p", BOOT1_ID, NULL), 2);
    assert_int_equal(tool(NULL, NULL, "bootstrap", "-n", "x", "-q", "-v", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "bootstrap", "-n", "x", "--shutdown-timeout", "soon", NULL), 2);
    assert_non_null(strstr(err, "--shutdown-timeout"));
    assert_int_equal(tool(NULL, NULL, "bootstrap", "-n", "x", "-s", "a", "--secret-file", "/nonexistent", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "bootstrap", "--listen", NULL), 2);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(tool(NULL, NULL, "bootstrap", "--frobnicate", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "beacon", "-l", "127.0.0.1:0", NULL), 2);
    assert_non_null(strstr(err, "--network is required"));
    assert_int_equal(tool(NULL, NULL, "inspect", "-p", "127.0.0.1:1", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "nosuchcommand", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "--color=purple", "id", "x", NULL), 2);
    assert_int_equal(tool(NULL, NULL, "tdx", NULL), 3);
    assert_int_equal(tool(NULL, NULL, "--version", NULL), 0);
    assert_non_null(strstr(out, "libmosaik"));
    assert_non_null(strstr(out, "LMDB"));
}

/* Every MOSAIK_BOOTSTRAP_* variable shapes the node; the command line beats them. */
static void environment_configures_the_node(void **state) {
    (void)state;
    mk_network_t *peer = mkt_disc_node(NULL, NULL);
    char peer_addr[MK_ADDR_STR_MAX], hex[MK_ID_HEX_LEN + 1], nenv[128], penv[MK_ADDR_STR_MAX + 32];
    mkt_disc_addr(peer, peer_addr, sizeof peer_addr);
    net_hex(hex);
    snprintf(nenv, sizeof nenv, "MOSAIK_BOOTSTRAP_NETWORK_ID=%s", hex);
    snprintf(penv, sizeof penv, "MOSAIK_BOOTSTRAP_PEERS=%s", peer_addr);
    char secret_file[] = "/tmp/mkt-secret-XXXXXX";
    int fd = mkstemp(secret_file);
    assert_true(write(fd, "mosaik-bootstrap-1\nignored\n", 27) == 27);
    close(fd);
    char sfenv[64];
    snprintf(sfenv, sizeof sfenv, "MOSAIK_BOOTSTRAP_SECRET_FILE=%s", secret_file);
    const char *env[] = {nenv, sfenv, penv, "MOSAIK_BOOTSTRAP_TAGS=alpha,beta", "MOSAIK_BOOTSTRAP_LISTEN=127.0.0.1:0",
                         "MOSAIK_BOOTSTRAP_ADVERTISE=127.0.0.1:4999", "MOSAIK_BOOTSTRAP_METRICS=127.0.0.1:0",
                         "MOSAIK_BOOTSTRAP_NO_DHT=yes", "MOSAIK_BOOTSTRAP_MDNS=false", "MOSAIK_BOOTSTRAP_NO_RELAY=TRUE",
                         "MOSAIK_BOOTSTRAP_LOGGING=debug", "MOSAIK_BOOTSTRAP_QUIET=0", NULL};
    char *argv[] = {(char *)mkt_tool_path(), "bootstrap", NULL};
    mkt_tool_proc_t p;
    char line[MK_ADDR_STR_MAX + 2];
    mkt_tool_start(&p, argv, env, line, sizeof line);
    /* the secret file's first line is the secret; the advertised address is published */
    assert_string_equal(line, BOOT1_ID "@127.0.0.1:4999");
    mk_peer_id_t boot;
    assert_int_equal(mk_peer_id_parse(BOOT1_ID, &boot), MK_OK);
    /* it contacted the in-process peer and announced its tags there */
    double t0 = mkt_now();
    bool seen = false;
    while (!seen && mkt_now() - t0 < T(5)) {
        const mk_peer_entry_t *e = mkt_disc_entry(peer, &boot);
        seen = e && mk_peer_entry_has_tag(e, "alpha") && mk_peer_entry_has_tag(e, "beta") &&
               !mk_peer_entry_has_tag(e, "bootstrap");
        mk_peer_entry_unref(e);
        if (!seen) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(seen);
    char *errs = NULL;
    assert_int_equal(mkt_tool_stop(&p, SIGTERM, 6, &errs), 0);
    close(p.out_fd);
    assert_non_null(strstr(errs, "relay   : not built (--no-relay has no effect)"));
    assert_non_null(strstr(errs, "metrics : http://127.0.0.1:0/metrics"));
    assert_non_null(strstr(errs, "DEBUG"));  /* LOGGING=debug: the link to the peer is logged */
    assert_non_null(strstr(errs, "stable: from --secret-file"));
    free(errs);
    /* the command line beats the environment: -t replaces the tags, -s with SECRET_FILE conflicts */
    const char *env2[] = {nenv, "MOSAIK_BOOTSTRAP_TAGS=alpha", "MOSAIK_BOOTSTRAP_LISTEN=127.0.0.1:0",
                          "MOSAIK_BOOTSTRAP_SECRET=mysecret", "MOSAIK_BOOTSTRAP_QUIET=1", NULL};
    char *argv2[] = {(char *)mkt_tool_path(), "bootstrap", "-s", "mosaik-bootstrap-1", "-t", "gamma", NULL};
    mkt_tool_start(&p, argv2, env2, line, sizeof line);
    assert_int_equal(strncmp(line, BOOT1_ID "@", 65), 0);
    assert_int_equal(mkt_tool_stop(&p, SIGINT, 6, &errs), 0);
    close(p.out_fd);
    assert_null(strstr(errs, "mosaik bootstrap node"));  /* QUIET: no banner */
    free(errs);
    unlink(secret_file);
    mk_network_free(peer);
}

static void sigterm_departs_gracefully_from_three_nodes(void **state) {
    (void)state;
    char hex[MK_ID_HEX_LEN + 1];
    net_hex(hex);
    char *argv[] = {(char *)mkt_tool_path(), "bootstrap", "-n", hex, "-s", "mosaik-bootstrap-1", "-l", "127.0.0.1:0",
                    "--no-dht", "--shutdown-timeout", "3", NULL};
    mkt_tool_proc_t p;
    char line[MK_ADDR_STR_MAX + 2];
    mkt_tool_start(&p, argv, NULL, line, sizeof line);
    assert_int_equal(strncmp(line, BOOT1_ID "@127.0.0.1:", 75), 0);
    mk_network_t *nets[3];
    mk_discovery_events_t *evs[3];
    for (int i = 0; i < 3; i++) {
        nets[i] = mkt_disc_node(line, NULL);
        evs[i] = mk_discovery_events(nets[i], NULL);
    }
    mk_peer_id_t boot;
    assert_int_equal(mk_peer_id_parse(BOOT1_ID, &boot), MK_OK);
    double tw = mkt_now();  /* each sees the two others and the tool's node */
    while ((mkt_disc_count(nets[0]) != 3 || mkt_disc_count(nets[1]) != 3 || mkt_disc_count(nets[2]) != 3) &&
           mkt_now() - tw < T(5)) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 3; i++) assert_int_equal(mkt_disc_count(nets[i]), 3);
    double t0 = mkt_now();
    char *errs = NULL;
    assert_int_equal(mkt_tool_stop(&p, SIGTERM, 3 + 1, &errs), 0);
    assert_true(mkt_now() - t0 < T(3 + 1));
    assert_non_null(strstr(errs, "joined"));  /* peer events are logged */
    free(errs);
    char rest[64];
    assert_true(read(p.out_fd, rest, sizeof rest) <= 0);  /* nothing but the address line, ever */
    close(p.out_fd);
    for (int i = 0; i < 3; i++) {
        mk_peer_event_t ev;
        assert_true(mkt_disc_wait_event(evs[i], MK_PEER_DEPARTED, &boot, 2, &ev));
        assert_int_equal(ev.reason, MK_DEPART_GRACEFUL);
        mk_peer_event_clear(&ev);
        mk_discovery_events_free(evs[i]);
        mk_network_free(nets[i]);
    }
    /* restarted with the same secret: the same id */
    mkt_tool_start(&p, argv, NULL, line, sizeof line);
    assert_int_equal(strncmp(line, BOOT1_ID "@", 65), 0);
    assert_int_equal(mkt_tool_stop(&p, SIGINT, 4, NULL), 0);
    close(p.out_fd);
}

static void beacon_has_its_own_defaults(void **state) {
    (void)state;
    char hex[MK_ID_HEX_LEN + 1];
    net_hex(hex);
    char *argv[] = {(char *)mkt_tool_path(), "beacon", "-n", hex, "-l", "127.0.0.1:0", "--no-relay", NULL};
    const char *env[] = {"MOSAIK_BOOTSTRAP_TAGS=ignored", NULL};  /* beacon reads no environment */
    mkt_tool_proc_t p;
    char line[MK_ADDR_STR_MAX + 2];
    mkt_tool_start(&p, argv, env, line, sizeof line);
    mk_network_t *n = mkt_disc_node(line, NULL);
    mk_peer_addr_t a;
    assert_int_equal(mk_peer_addr_parse(line, &a, NULL), MK_OK);
    double t0 = mkt_now();
    bool seen = false;
    while (!seen && mkt_now() - t0 < T(5)) {
        const mk_peer_entry_t *e = mkt_disc_entry(n, &a.peer);
        seen = e && mk_peer_entry_has_tag(e, "beacon-node") && !mk_peer_entry_has_tag(e, "ignored");
        mk_peer_entry_unref(e);
        if (!seen) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(seen);
    char *errs = NULL;
    assert_int_equal(mkt_tool_stop(&p, SIGTERM, 6, &errs), 0);
    close(p.out_fd);
    assert_non_null(strstr(errs, "mosaik beacon node"));
    assert_non_null(strstr(errs, "relays  : disabled"));
    assert_non_null(strstr(errs, "ips     :"));
    free(errs);
    mk_network_free(n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_vectors_json_and_out_file),
        cmocka_unit_test(id_vectors_forms_and_stdin),
        cmocka_unit_test(usage_errors_exit_2_and_name_the_cause),
        cmocka_unit_test(environment_configures_the_node),
        cmocka_unit_test(sigterm_departs_gracefully_from_three_nodes),
        cmocka_unit_test(beacon_has_its_own_defaults),
    };
    return mkt_run("integration.tools.bootstrap", tests, sizeof tests / sizeof tests[0]);
}
