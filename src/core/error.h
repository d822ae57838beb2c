/* core/error.h — internal helpers that fill mk_error_t records. */
#ifndef MK_CORE_ERROR_H
#define MK_CORE_ERROR_H

#include "mosaik/core.h"

/* Fills e (if non-NULL) with code and "<func>: <formatted cause>"; returns code. */
int mk_err_set(mk_error_t *e, int code, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, also recording errno. */
int mk_err_sys(mk_error_t *e, int code, int sys_errno, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Copies src into dst (if both non-NULL). */
void mk_err_copy(mk_error_t *dst, const mk_error_t *src);

#define MK_ERR(e, code, ...) mk_err_set((e), (code), __func__, __VA_ARGS__)
#define MK_ERR_SYS(e, code, en, ...) mk_err_sys((e), (code), (en), __func__, __VA_ARGS__)

#endif
