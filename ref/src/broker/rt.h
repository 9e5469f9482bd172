/* Realtime options of busrtd (rt.c): --rt-priority (SCHED_FIFO), --cpu
 * (CPU affinity) and --mlockall. */
#ifndef BUSRTD_RT_H
#define BUSRTD_RT_H

#include <stddef.h>

struct config;

/* CPU numbers in a --cpu list are below this. */
#define RT_MAX_CPUS 4096

/* Parses a --rt-priority value: an integer in the SCHED_FIFO range of this
 * system (sched_get_priority_min/max, 1..99 on Linux). Returns 0, or -1
 * after printing why to stderr. */
int rt_parse_priority(const char *s, int *out);
/* Parses a --cpu list such as "0,2-3": CPU numbers and ranges below
 * RT_MAX_CPUS, comma-separated. When set is not NULL (RT_MAX_CPUS / 8
 * bytes, zeroed by the caller) bit n of set[n / 8] is set for each CPU n.
 * Returns 0, or -1 after printing why to stderr. */
int rt_parse_cpus(const char *s, unsigned char *set);
/* Applies --cpu, --mlockall and --rt-priority of cfg, in that order, to
 * this process, logging one line for each applied. Returns 0, or -1 after
 * logging which option failed, the value, and why. */
int rt_apply(const struct config *cfg);

#endif
