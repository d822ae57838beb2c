/* tools/mosaik/main.c — the `mosaik` command-line program: option parsing and the one-shot
 * subcommands `keygen` and `id`; `bootstrap` and `inspect` are in node_cmds.c (dht and tdx arrive with
 * the subsystems they drive). */
#include <mosaik/mosaik.h>

#include <event2/event.h>
#include <getopt.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>

int cmd_bootstrap(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

static int usage(FILE *to) {
    fprintf(to,
            "usage: mosaik [-v|-vv|-q] <command> [options]\n"
            "       mosaik --version | --help\n"
            "commands:\n"
            "  keygen [--secret SEED]   print a secret key (64 hex) and its peer id\n"
            "  id STRING...             print the id of each string (64 hex decoded, else BLAKE3)\n"
            "  bootstrap -n NET [-s SECRET] [-p ADDR]... [-t TAG]... [-l IP:PORT]\n"
            "                           run a bootstrap node; prints its address line\n"
            "  inspect -n NET -p ADDR [--json] [--wait S] [--min-peers N]\n"
            "                           join, print the catalog once, depart\n");
    return to == stderr ? 2 : 0;
}

static int cmd_keygen(int argc, char **argv) {
    static const struct option opts[] = {{"secret", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    const char *seed = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        if (c == 's') seed = optarg;
        else return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "mosaik keygen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    mk_secret_key_t sk;
    if (seed) mk_secret_key_from_str(seed, &sk);
    else if (mk_secret_key_generate(&sk) != MK_OK) {
        fprintf(stderr, "mosaik keygen: the random generator failed\n");
        return 1;
    }
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    char hex[MK_ID_HEX_LEN + 1];
    mk_id_t seed_id;
    memcpy(seed_id.b, sk.seed, 32);
    printf("secret  %s\n", mk_id_hex(&seed_id, hex));
    printf("peer-id %s\n", mk_id_hex(&pub, hex));
    mk_secret_key_wipe(&sk);
    memset(&seed_id, 0, sizeof seed_id);
    return 0;
}

static int cmd_id(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "mosaik id: at least one STRING is required\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        mk_id_t id = mk_id_from_str(argv[i]);
        char hex[MK_ID_HEX_LEN + 1];
        printf("%s\n", mk_id_hex(&id, hex));
    }
    return 0;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--version")) {
            printf("mosaik %s (libmosaik %s; %s; libevent %s)\n", MK_VERSION_STRING, MK_VERSION_STRING,
                   OPENSSL_VERSION_TEXT, event_get_version());
            return 0;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
        if (!strcmp(argv[i], "-v")) mk_log_set_level(NULL, MK_LOG_DEBUG);
        else if (!strcmp(argv[i], "-vv")) mk_log_set_level(NULL, MK_LOG_TRACE);
        else if (!strcmp(argv[i], "-q")) mk_log_set_level(NULL, MK_LOG_OFF);
        else {
            fprintf(stderr, "mosaik: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) return usage(stderr);
    const char *cmd = argv[i];
    if (!strcmp(cmd, "keygen")) return cmd_keygen(argc - i, argv + i);
    if (!strcmp(cmd, "id")) return cmd_id(argc - i, argv + i);
    if (!strcmp(cmd, "bootstrap")) return cmd_bootstrap(argc - i, argv + i);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - i, argv + i);
    fprintf(stderr, "mosaik: unknown command '%s' (try --help)\n", cmd);
    return 2;
}
