/* tools/mosaik/main.c — the `mosaik` program (spec 70 §2): global options (-v, -vv, -q, --color),
 * --version and --help, and dispatch to one file per subcommand (keygen.c, id.c, bootstrap.c with
 * beacon, inspect.c; dht and tdx arrive with the subsystems they drive). */
#include "cli.h"

#include <event2/event.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <string.h>

static int usage(FILE *to) {
    fprintf(to,
            "usage: mosaik [-v|-vv|-q] [--color=auto|always|never] <command> [options]\n"
            "       mosaik --version | --help | <command> --help\n"
            "commands:\n"
            "  bootstrap   run a bootstrap node; prints its address line <peer id>@ip:port\n"
            "  beacon      the bootstrap node with the Rust CLI's defaults (--network required)\n"
            "  inspect     join a network and show its catalog (live, --once, or --json)\n"
            "  keygen      print a secret key and its peer id (--seed for a fixed one)\n"
            "  id          print the id of strings (64 hex digits decoded, anything else hashed)\n"
            "  dht, tdx    not available in this build\n");
    return to == stderr ? CLI_USAGE : CLI_OK;
}

static int color_option(const char *v) {
    if (!strcmp(v, "auto")) cli_color = 2;
    else if (!strcmp(v, "always")) cli_color = 1;
    else if (!strcmp(v, "never")) cli_color = 0;
    else {
        fprintf(stderr, "mosaik: --color '%s': expected auto, always or never\n", v);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version")) {
            printf("mosaik %s (libmosaik %s; %s; libevent %s; LMDB %d.%d.%d)\n", MK_VERSION_STRING, MK_VERSION_STRING,
                   OpenSSL_version(OPENSSL_VERSION), event_get_version(), MDB_VERSION_MAJOR, MDB_VERSION_MINOR,
                   MDB_VERSION_PATCH);
            return CLI_OK;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
        if (!strcmp(a, "-v")) cli_verbosity = cli_verbosity < 1 ? 1 : cli_verbosity;
        else if (!strcmp(a, "-vv")) cli_verbosity = 2;
        else if (!strcmp(a, "-q")) cli_verbosity = -1;
        else if (!strncmp(a, "--color=", 8)) {
            if (color_option(a + 8)) return CLI_USAGE;
        } else if (!strcmp(a, "--color") && i + 1 < argc) {
            if (color_option(argv[++i])) return CLI_USAGE;
        } else {
            fprintf(stderr, "mosaik: unknown option '%s' (try --help)\n", a);
            return CLI_USAGE;
        }
    }
    if (i >= argc) return usage(stderr);
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "keygen")) return cmd_keygen(sub_argc, sub_argv);
    if (!strcmp(cmd, "id")) return cmd_id(sub_argc, sub_argv);
    if (!strcmp(cmd, "bootstrap")) return cmd_bootstrap(sub_argc, sub_argv);
    if (!strcmp(cmd, "beacon")) return cmd_beacon(sub_argc, sub_argv);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(sub_argc, sub_argv);
    if (!strcmp(cmd, "dht") || !strcmp(cmd, "tdx")) {
        fprintf(stderr, "mosaik %s: not available in this build\n", cmd);
        return CLI_NEGATIVE;
    }
    fprintf(stderr, "mosaik: unknown command '%s' (try --help)\n", cmd);
    return CLI_USAGE;
}
