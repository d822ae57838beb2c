/* tools/mosaik/id.c — `mosaik id` (spec 70 §2.5): the id of each string by the identifier rule (64 hex
 * digits decoded, anything else BLAKE3-hashed), --hash to hash even 64-hex input, --derive BASE for
 * mk_id_derive(id(BASE), STRING), --short for the 10-digit form; several inputs or `-` (lines of stdin)
 * print "<hex>  <input>" per line, like sha256sum. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *USAGE = "usage: mosaik id [--short] [--hash] [--derive BASE] STRING...|-\n"
                           "Prints the id of each STRING (64 hex digits are decoded, anything else hashed).\n";

typedef struct id_opts {
    bool short_form, hash, two_columns;
    const char *derive;
} id_opts_t;

static void print_id(const id_opts_t *o, const char *s, size_t len) {
    mk_id_t id = o->hash ? mk_id_hash(s, len) : mk_id_from_strn(s, len);
    if (o->derive) {
        mk_id_t base = mk_id_from_str(o->derive);
        id = mk_id_derive(&base, s, len);
    }
    char hex[MK_ID_HEX_LEN + 1];
    if (o->short_form) mk_id_short(&id, hex);
    else mk_id_hex(&id, hex);
    if (o->two_columns) printf("%s  %.*s\n", hex, (int)len, s);
    else printf("%s\n", hex);
}

int cmd_id(int argc, char **argv) {
    static const struct option opts[] = {
        {"short", no_argument, NULL, 'S'}, {"hash", no_argument, NULL, 'H'},
        {"derive", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    id_opts_t o = {0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': o.short_form = true; break;
        case 'H': o.hash = true; break;
        case 'd': o.derive = optarg; break;
        case 'h': printf("%s", USAGE); return CLI_OK;
        case ':': fprintf(stderr, "mosaik id: option '%s' needs a value\n", argv[optind - 1]); return CLI_USAGE;
        default: fprintf(stderr, "mosaik id: unknown option '%s' (try --help)\n", argv[optind - 1]); return CLI_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "mosaik id: at least one STRING (or - for stdin) is required\n");
        return CLI_USAGE;
    }
    o.two_columns = argc - optind > 1;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") != 0) {
            print_id(&o, argv[i], strlen(argv[i]));
            continue;
        }
        o.two_columns = true;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            size_t len = (size_t)n;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
            print_id(&o, line, len);
        }
        free(line);
    }
    return ferror(stdout) ? CLI_FAIL : CLI_OK;
}
