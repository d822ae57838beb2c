/* support/prom_check.h — a strict checker of the Prometheus text exposition format 0.0.4, used on the
 * output of the metrics registry and of GET /metrics, and a lookup of one sample's value. */
#ifndef MKT_PROM_CHECK_H
#define MKT_PROM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Checks text[0..n) and returns 0 if it is valid, -1 otherwise with "line N: cause" in why (cut to
 * whycap; why may be NULL). Checked: every line ends with '\n'; no NUL, no leading or trailing
 * blanks; `# HELP name doc` (escapes \\ \n only) and `# TYPE name counter|gauge|histogram|summary|
 * untyped` at most once per family and before its samples; metric and label name syntax, no `__`
 * label prefix, no repeated label; label values quoted, escapes \\ \" \n only, valid UTF-8; values
 * are floats (+Inf -Inf NaN spelled so), optional integer timestamp; a family's samples are
 * contiguous; no series twice; counters >= 0; histograms: only _bucket (with `le`), _sum and _count
 * samples, `le` increasing and counts non-decreasing per series, a +Inf bucket equal to _count,
 * _sum present. Thread-safe (no global state). */
int mkt_prom_check(const char *text, size_t n, char *why, size_t whycap);

/* Finds the first sample called `name` whose labels include every pair of kv ("k", "v", …, NULL;
 * NULL = any labels; values compared unescaped) and stores its value. False if none or unparsable. */
bool mkt_prom_value(const char *text, size_t n, const char *name, const char *const *kv, double *value);

#endif
