/* tools/mosaik/cli.h — what the subcommands of `mosaik` share (spec 70 §1–2): verbosity and colour
 * from the global options, the network options of bootstrap/beacon/inspect with their environment
 * variables, starting the node, signals (signalfd; a second SIGINT/SIGTERM exits 130; SIGUSR1 prints
 * a status line) and the bounded graceful shutdown. Exit codes: 0 ok, 1 runtime failure, 2 usage,
 * 3 negative answer, 130 interrupted. */
#ifndef MOSAIK_TOOL_CLI_H
#define MOSAIK_TOOL_CLI_H

#include <mosaik/mosaik.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_MAX_LIST 32

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_NEGATIVE = 3, CLI_INTERRUPTED = 130 };

/* Global options (main.c): -1 = -q, 0 = none given, 1 = -v, 2 = -vv; colour: 0 never, 1 always, 2 auto. */
extern int cli_verbosity;
extern int cli_color;

/* Network options shared by bootstrap, beacon and inspect. Strings point into argv or the
 * environment (or into copies that live until exit). */
typedef struct cli_net {
    const char *network, *secret, *secret_file, *listen, *metrics;
    const char *peers[CLI_MAX_LIST + 1];
    const char *tags[CLI_MAX_LIST + 1];
    const char *advertise[CLI_MAX_LIST + 1];
    size_t npeers, ntags, nadvertise;
    bool no_dht, no_relay, mdns, quiet, secret_from_user, network_from_user;
    int verbose;                      /* -v count on the subcommand */
    double shutdown_timeout_s;        /* 5 */
    char *owned[3 * CLI_MAX_LIST];    /* copies the lists point into (cli_net_release frees them) */
    size_t nowned;
} cli_net_t;

/* Long options every network command accepts; `extra` (may be NULL) adds the command's own, handled
 * by on_extra(c, optarg, ctx) (returning CLI_OK or CLI_USAGE). Returns CLI_OK, CLI_USAGE, or -1 when
 * --help was printed. */
typedef int (*cli_extra_fn)(int c, const char *arg, void *ctx);
int cli_net_parse(int argc, char **argv, const char *cmd, cli_net_t *o, const struct option *extra, cli_extra_fn on_extra,
                  void *ctx, const char *usage);
/* Reads the MOSAIK_BOOTSTRAP_* variables into o (before cli_net_parse: the command line wins).
 * CLI_USAGE (with a message naming the variable) on a bad value. */
int cli_net_env(cli_net_t *o);
/* Frees the copies made while parsing (the lists point into them). */
void cli_net_release(cli_net_t *o);
/* Checks one --peer value: "<64 hex>@host:port[,…]" or "host:port"; a bare peer id is refused with a
 * hint. CLI_OK or CLI_USAGE (message printed). */
int cli_check_peer(const char *cmd, const char *addr);
/* Applies the log level: flags beat MK_LOG, which beats the command's default. */
void cli_apply_log_level(const cli_net_t *o, mk_log_level_t dflt);
/* Starts the node of o (secret loaded, tags, peers, listen, advertise, metrics). NULL on failure with a
 * message on stderr; *usage_error tells a configuration problem (exit 2) from a runtime one (exit 1). */
mk_network_t *cli_net_start(const cli_net_t *o, const char *cmd, bool *usage_error);

/* Signals: blocks SIGINT, SIGTERM and SIGUSR1 (taken through the returned signalfd) and ignores
 * SIGPIPE. -1 on failure. */
int cli_signals_open(void);
/* Waits up to timeout_ms for a signal on fd: its number, or 0. */
int cli_signal_wait(int fd, int timeout_ms);
/* Prints "status: peers=… links=… up=…" on stderr. */
void cli_status_line(mk_network_t *n, double started_mono_s);
/* Frees n (departure, Close 204) within timeout_s; a second SIGINT/SIGTERM on sigfd meanwhile exits
 * 130 at once. */
void cli_shutdown(mk_network_t *n, int sigfd, double timeout_s);

/* Monotonic seconds. */
double cli_now(void);
/* "3h02m" / "41m" / "12s" style duration into buf. */
const char *cli_duration(double seconds, char *buf, size_t cap);
/* A short hex prefix of an id with an ellipsis ("72d9fb2e01b5…"). */
const char *cli_id_prefix(const mk_id_t *id, char *buf, size_t cap);

/* The one-shot subcommands and the network ones. */
int cmd_keygen(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_bootstrap(int argc, char **argv);
int cmd_beacon(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
