/* core/log.h — internal logging: module ids, level checks, the MK_LOGF macros and rate limiting.
 * Line format: "2025-05-01T12:34:56.789Z WARN  net [7e886b3491] text key=value" (see docs/core.md). */
#ifndef MK_CORE_LOG_H
#define MK_CORE_LOG_H

#include "mosaik/core.h"

#include <stdatomic.h>

typedef enum {
    MK_MOD_CORE = 0, MK_MOD_NET, MK_MOD_DISCOVERY, MK_MOD_STREAMS, MK_MOD_GROUPS, MK_MOD_COLLECTIONS,
    MK_MOD_TICKETS, MK_MOD_TDX, MK_MOD_METRICS, MK_MOD_SIM, MK_MOD__COUNT
} mk_log_module_t;

/* Name of a module ("net"); NULL if out of range. */
const char *mk_log_module_name(mk_log_module_t m);
/* True when a line of this level would be written; reads MK_LOG once on first use. Lock-free. */
bool mk_log_enabled(mk_log_module_t m, mk_log_level_t lvl);
/* Formats and writes one line. `self` = local short PeerId or NULL ("-"). Newlines in the text are
 * escaped; the line is cut at 1024 bytes. Thread-safe. */
void mk_log_write(mk_log_module_t m, mk_log_level_t lvl, const char *self, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Rate limit state for one call site: at most one line per second, the next carries "(N suppressed)". */
typedef struct mk_log_ratelimit { _Atomic int64_t last_ms; _Atomic uint64_t suppressed; } mk_log_ratelimit_t;
/* Returns true if the call site may log now; *suppressed receives how many were dropped since. */
bool mk_log_ratelimit_pass(mk_log_ratelimit_t *rl, uint64_t *suppressed);

/* Parses an MK_LOG value ("info" or "warn,net=debug,...") into levels[MK_MOD__COUNT] and *deflt.
 * Returns MK_OK or MK_EINVAL (levels untouched). Pure; used by tests and the fuzz target. */
int mk_log_parse_spec(const char *spec, mk_log_level_t *deflt, mk_log_level_t levels[MK_MOD__COUNT]);

#define MK_LOGF(mod, lvl, self, ...) \
    do { if (mk_log_enabled((mod), (lvl))) mk_log_write((mod), (lvl), (self), __VA_ARGS__); } while (0)

/* Like mk_log_write; a non-zero `suppressed` appends " (N suppressed)" to the line. */
void mk_log_write_sup(mk_log_module_t m, mk_log_level_t lvl, const char *self, uint64_t suppressed,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Warning caused by remote input: rate-limited per call site (one line per second). */
#define MK_LOGF_RL(mod, lvl, self, ...) \
    do { \
        static mk_log_ratelimit_t rl_; uint64_t sup_ = 0; \
        if (mk_log_enabled((mod), (lvl)) && mk_log_ratelimit_pass(&rl_, &sup_)) \
            mk_log_write_sup((mod), (lvl), (self), sup_, __VA_ARGS__); \
    } while (0)

#endif
