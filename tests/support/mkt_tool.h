/* support/mkt_tool.h — running the `mosaik` program from integration tests: locate it next to the
 * test binary, run it to completion with extra environment and optional stdin, or start it in the
 * background and read its first stdout line. Children get MK_DHT=off and stderr into a temp file. */
#ifndef MKT_TOOL_H
#define MKT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Path of build/<type>/bin/mosaik (fails the test when missing). */
const char *mkt_tool_path(void);
/* Runs argv to completion within T(timeout_s) (killed after). env: NULL-terminated "K=V" list or NULL;
 * stdin_text may be NULL. stdout into out (NUL-terminated, cap bytes), stderr into err (may be NULL).
 * Returns the exit status (128 + signal when killed). */
int mkt_tool_run(char *const argv[], const char *const *env, const char *stdin_text, double timeout_s, char *out,
                 size_t cap, char *err, size_t errcap);

typedef struct mkt_tool_proc {
    pid_t pid;
    int out_fd;        /* the rest of its stdout (close it) */
    char errpath[64];  /* its stderr */
} mkt_tool_proc_t;

/* Starts argv in the background and waits ≤ T(5) s for its first stdout line (into line, without the
 * newline). Fails the test when no line comes. */
void mkt_tool_start(mkt_tool_proc_t *p, char *const argv[], const char *const *env, char *line, size_t cap);
/* Sends sig and waits ≤ T(timeout_s) s; returns the exit status (fails the test on timeout). Its
 * stderr goes to *err (malloc'd, free it) when err is not NULL. */
int mkt_tool_stop(mkt_tool_proc_t *p, int sig, double timeout_s, char **err);

#endif
