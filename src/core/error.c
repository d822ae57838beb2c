/* core/error.c — status code names, mk_strerror and the mk_error_t fillers. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct status_text { int code; const char *name; const char *text; };

static const struct status_text STATUS[] = {
    {MK_OK, "MK_OK", "MK_OK: success"},
    {MK_EINVAL, "MK_EINVAL", "MK_EINVAL: invalid argument"},
    {MK_ENOMEM, "MK_ENOMEM", "MK_ENOMEM: out of memory"},
    {MK_ETIMEDOUT, "MK_ETIMEDOUT", "MK_ETIMEDOUT: timed out"},
    {MK_EAGAIN, "MK_EAGAIN", "MK_EAGAIN: nothing available now"},
    {MK_EFULL, "MK_EFULL", "MK_EFULL: queue or buffer full"},
    {MK_ECLOSED, "MK_ECLOSED", "MK_ECLOSED: closed"},
    {MK_EOFFLINE, "MK_EOFFLINE", "MK_EOFFLINE: not online"},
    {MK_ENOTFOUND, "MK_ENOTFOUND", "MK_ENOTFOUND: not found"},
    {MK_EEXIST, "MK_EEXIST", "MK_EEXIST: already exists"},
    {MK_EDENIED, "MK_EDENIED", "MK_EDENIED: denied by policy"},
    {MK_EPERM, "MK_EPERM", "MK_EPERM: not permitted"},
    {MK_EREADONLY, "MK_EREADONLY", "MK_EREADONLY: read-only"},
    {MK_EBUSY, "MK_EBUSY", "MK_EBUSY: busy"},
    {MK_EPROTO, "MK_EPROTO", "MK_EPROTO: protocol error"},
    {MK_EIDENTITY, "MK_EIDENTITY", "MK_EIDENTITY: unexpected peer identity"},
    {MK_EUNREACH, "MK_EUNREACH", "MK_EUNREACH: peer unreachable"},
    {MK_EIO, "MK_EIO", "MK_EIO: I/O error"},
    {MK_E2BIG, "MK_E2BIG", "MK_E2BIG: over the size limit"},
    {MK_EDEADLK, "MK_EDEADLK", "MK_EDEADLK: blocking call on the loop thread"},
    {MK_ECANCELED, "MK_ECANCELED", "MK_ECANCELED: canceled"},
    {MK_ELOST, "MK_ELOST", "MK_ELOST: lost to another outcome"},
    {MK_ENOTSUP, "MK_ENOTSUP", "MK_ENOTSUP: not supported"},
    {MK_EWRONGNET, "MK_EWRONGNET", "MK_EWRONGNET: different network"},
    {MK_EBADSIG, "MK_EBADSIG", "MK_EBADSIG: bad signature"},
    {MK_ESTALE, "MK_ESTALE", "MK_ESTALE: stale"},
    {MK_EALREADY, "MK_EALREADY", "MK_EALREADY: already done"},
    {MK_ELAGGED, "MK_ELAGGED", "MK_ELAGGED: reader lagged"},
    {MK_ETERMINATED, "MK_ETERMINATED", "MK_ETERMINATED: owner freed or network stopped; permanently gone"},
    {MK_ENOCOMMANDS, "MK_ENOCOMMANDS", "MK_ENOCOMMANDS: no commands"},
};

static const struct status_text *find(int code) {
    for (size_t i = 0; i < sizeof STATUS / sizeof STATUS[0]; i++)
        if (STATUS[i].code == code) return &STATUS[i];
    return NULL;
}

const char *mk_strerror(int code) {
    const struct status_text *s = find(code);
    return s ? s->text : "MK_E?: unknown status code";
}

const char *mk_status_name(int code) {
    const struct status_text *s = find(code);
    return s ? s->name : NULL;
}

__attribute__((format(printf, 5, 0)))
static void fill(mk_error_t *e, int code, int en, const char *func, const char *fmt, va_list ap) {
    memset(e, 0, sizeof *e);
    e->code = code;
    e->sys_errno = en;
    int n = snprintf(e->msg, sizeof e->msg, "%s: ", func ? func : "mosaik");
    if (n < 0) n = 0;
    if ((size_t)n < sizeof e->msg) vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
}

int mk_err_set(mk_error_t *e, int code, const char *func, const char *fmt, ...) {
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    fill(e, code, 0, func, fmt, ap);
    va_end(ap);
    return code;
}

int mk_err_sys(mk_error_t *e, int code, int sys_errno, const char *func, const char *fmt, ...) {
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    fill(e, code, sys_errno, func, fmt, ap);
    va_end(ap);
    return code;
}

void mk_err_copy(mk_error_t *dst, const mk_error_t *src) {
    if (dst && src && dst != src) *dst = *src;
}
