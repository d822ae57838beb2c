/* tools/mosaik/keygen.c — `mosaik keygen` (spec 70 §2.5): a new secret key (RAND_bytes through the
 * library) or one derived from --seed with the identifier rule, printed with its peer id, as text or
 * JSON; --out writes the secret hex to a 0600 file and prints only the peer id. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE = "usage: mosaik keygen [--seed STRING] [--out FILE [--force]] [--json]\n"
                           "Prints a secret key (64 hex) and its peer id; --seed derives the key from STRING\n"
                           "(64 hex digits are taken as the key itself, anything else is hashed).\n";

static int write_secret(const char *path, bool force, const char *hex) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0600);
    if (fd < 0) {
        if (errno == EEXIST) fprintf(stderr, "mosaik keygen: %s exists (use --force to overwrite)\n", path);
        else fprintf(stderr, "mosaik keygen: cannot write %s: %s\n", path, strerror(errno));
        return errno == EEXIST ? CLI_USAGE : CLI_FAIL;
    }
    if (force) fchmod(fd, 0600);  /* an existing file keeps no wider mode */
    char line[MK_ID_HEX_LEN + 2];
    int len = snprintf(line, sizeof line, "%s\n", hex);
    bool ok = write(fd, line, (size_t)len) == len;
    memset(line, 0, sizeof line);
    if (close(fd) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "mosaik keygen: writing %s failed: %s\n", path, strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_keygen(int argc, char **argv) {
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"secret", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},  {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *seed = NULL, *out = NULL;
    bool force = false, json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:o:fjh", opts, NULL)) != -1) {
        switch (c) {
        case 's': seed = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = true; break;
        case 'j': json = true; break;
        case 'h': printf("%s", USAGE); return CLI_OK;
        case ':': fprintf(stderr, "mosaik keygen: option '%s' needs a value\n", argv[optind - 1]); return CLI_USAGE;
        default: fprintf(stderr, "mosaik keygen: unknown option '%s' (try --help)\n", argv[optind - 1]); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mosaik keygen: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    if (force && !out) {
        fprintf(stderr, "mosaik keygen: --force only goes with --out\n");
        return CLI_USAGE;
    }
    mk_secret_key_t sk;
    if (seed) mk_secret_key_from_str(seed, &sk);
    else if (mk_secret_key_generate(&sk) != MK_OK) {
        fprintf(stderr, "mosaik keygen: the random generator failed\n");
        return CLI_FAIL;
    }
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_id_t secret;
    memcpy(secret.b, sk.seed, sizeof secret.b);
    mk_secret_key_wipe(&sk);
    char shex[MK_ID_HEX_LEN + 1], phex[MK_ID_HEX_LEN + 1];
    mk_id_hex(&secret, shex);
    mk_id_hex(&pub, phex);
    memset(&secret, 0, sizeof secret);
    int rc = CLI_OK;
    if (out) {
        rc = write_secret(out, force, shex);
        if (rc == CLI_OK) {
            if (json) printf("{\"peer_id\":\"%s\"}\n", phex);
            else printf("peer-id %s\n", phex);
        }
    } else if (json) {
        printf("{\"secret\":\"%s\",\"peer_id\":\"%s\"}\n", shex, phex);
    } else {
        printf("secret  %s\npeer-id %s\n", shex, phex);
    }
    memset(shex, 0, sizeof shex);
    return rc;
}
