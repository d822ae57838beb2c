/* mosaik/core.h — status codes, error records, byte types and logging shared by every libmosaik header.
 * Everything here is thread-safe unless a comment says otherwise. */
#ifndef MOSAIK_CORE_H
#define MOSAIK_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MK_VERSION_STRING "0.1.0"

/* Status codes. Fixed values: part of the ABI. */
enum {
    MK_OK = 0,
    MK_EINVAL = -1,       /* bad argument or config field (named in msg) */
    MK_ENOMEM = -2,       /* allocation failed */
    MK_ETIMEDOUT = -3,    /* deadline passed; the outcome may be unknown */
    MK_EAGAIN = -4,       /* nothing available now (non-blocking call) */
    MK_EFULL = -5,        /* bounded queue or buffer full; retry later */
    MK_ECLOSED = -6,      /* object or link closed; close_code says why */
    /* -7 is reserved (was a separate "network down" code; MK_ETERMINATED covers it) */
    MK_EOFFLINE = -8,     /* online condition unmet / no leader */
    MK_ENOTFOUND = -9,    /* unknown id, peer, address or resource */
    MK_EEXIST = -10,      /* already registered / already present */
    MK_EDENIED = -11,     /* refused by policy: require predicate, ticket */
    MK_EPERM = -12,       /* not allowed by definition, role or reserved name */
    MK_EREADONLY = -13,   /* write on a read-only handle */
    MK_EBUSY = -14,       /* resource in use */
    MK_EPROTO = -15,      /* malformed input, unsupported version, protocol violation */
    MK_EIDENTITY = -16,   /* peer key is not the expected PeerId, or unusable certificate */
    MK_EUNREACH = -17,    /* no TCP connection to any address */
    MK_EIO = -18,         /* local OS/socket/TLS failure (sys_errno, ssl_err) */
    MK_E2BIG = -19,       /* over a frame/entry/command limit */
    MK_EDEADLK = -20,     /* blocking call made on the loop thread */
    MK_ECANCELED = -21,   /* pending operation ended because its handle was freed */
    MK_ELOST = -22,       /* slot taken by another outcome */
    MK_ENOTSUP = -23,     /* not supported on this platform or build */
    MK_EWRONGNET = -24,   /* peer or entry belongs to another network */
    MK_EBADSIG = -25,     /* signature does not verify */
    MK_ESTALE = -26,      /* older than what is known */
    MK_EALREADY = -27,    /* operation already done or in progress */
    MK_ELAGGED = -28,     /* reader fell behind a bounded backlog */
    MK_ETERMINATED = -29, /* owner freed: group, collection or stream permanently gone */
    MK_ENOCOMMANDS = -30, /* empty command batch */
};

/* Error record. Every mk_error_t* parameter may be NULL; on failure it is filled completely, on
 * success it is left untouched. */
typedef struct mk_error {
    int code;               /* one of the MK_E* codes */
    uint32_t close_code;    /* link close code when relevant, 0 = none */
    bool close_remote;      /* close_code was sent by the peer */
    int sys_errno;          /* errno of the failing system call, 0 = none */
    unsigned long ssl_err;  /* OpenSSL error code, 0 = none */
    char msg[256];          /* "<function>: <cause>", NUL-terminated */
} mk_error_t;

/* Borrowed input bytes: the callee copies what it keeps. */
typedef struct mk_bytes {
    const void *ptr;
    size_t len;
} mk_bytes_t;

/* Owned output bytes: release with mk_buf_free. `cap` is the allocated size (internal growth). */
typedef struct mk_buf {
    void *ptr;
    size_t len;
    size_t cap;
} mk_buf_t;
#define MK_BUF_INIT {0}

/* Frees the buffer's memory and resets it to MK_BUF_INIT. NULL and MK_BUF_INIT are no-ops. */
void mk_buf_free(mk_buf_t *b);
/* Ensures room for `extra` more bytes. MK_ENOMEM on allocation failure or size overflow. */
int mk_buf_reserve(mk_buf_t *b, size_t extra);
/* Appends n bytes (p may be NULL when n == 0). MK_ENOMEM on failure; the buffer is unchanged then. */
int mk_buf_append(mk_buf_t *b, const void *p, size_t n);

/* Tri-state switch used by configuration structs: zero means "the subsystem's default". */
typedef enum { MK_TOGGLE_DEFAULT = 0, MK_TOGGLE_ON, MK_TOGGLE_OFF } mk_toggle_t;

/* Static text for a status code, e.g. "MK_ETIMEDOUT: timed out"; unknown codes give "MK_E?: unknown status code". */
const char *mk_strerror(int code);
/* Symbolic name only, e.g. "MK_ETIMEDOUT"; NULL for unknown codes. */
const char *mk_status_name(int code);

/* Logging -------------------------------------------------------------------------------------- */
typedef enum {
    MK_LOG_OFF = 0, MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG, MK_LOG_TRACE
} mk_log_level_t;

/* A sink receives each formatted line (no trailing newline). It must be thread-safe and quick. */
typedef void (*mk_log_sink_fn)(void *ctx, mk_log_level_t lvl, const char *module, const char *line);

/* Sets the level of one module (NULL = all). MK_EINVAL for an unknown module. Overrides MK_LOG. */
int mk_log_set_level(const char *module, mk_log_level_t lvl);
/* Installs the sink for every line; NULL restores stderr. Callable from any thread. */
void mk_log_set_sink(mk_log_sink_fn fn, void *ctx);
/* Current level of a module (NULL = the default level). */
mk_log_level_t mk_log_get_level(const char *module);

#ifdef __cplusplus
}
#endif
#endif
