/* Realtime options: --cpu (sched_setaffinity), --mlockall (mlockall with
 * MCL_CURRENT | MCL_FUTURE) and --rt-priority (sched_setscheduler with
 * SCHED_FIFO). main.c applies them once every listener is open (bound),
 * after daemonizing (memory locks are not inherited across fork), before
 * the listeners accept connections and before a service manager is told
 * that the broker is ready. Each failure is fatal (exit status 2): a
 * broker asked to run realtime that silently runs without is worse than
 * one that does not start. */
#define _GNU_SOURCE /* cpu_set_t, sched_setaffinity */
#include "rt.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ASAN 1
#endif
#endif

int rt_parse_priority(const char *s, int *out)
{
    int lo = sched_get_priority_min(SCHED_FIFO), hi = sched_get_priority_max(SCHED_FIFO);
    lo = lo < 1 ? 1 : lo; /* 0 in struct config means "not asked" */
    if (hi < lo) {
        fprintf(stderr, "busrtd: --rt-priority: this system reports no SCHED_FIFO priority "
                        "range (%s); not starting\n", strerror(errno));
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "busrtd: --rt-priority: '%s' is not a SCHED_FIFO priority, an integer "
                        "in [%d, %d]; not starting\n", s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Reads a CPU number at *p (digits only); advances *p. Returns it, or -1
 * when there are no digits or it is too large. */
static long cpu_number(const char **p)
{
    const char *s = *p;
    long v = 0;
    if (*s < '0' || *s > '9') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v >= RT_MAX_CPUS) {
            return -2;
        }
        s++;
    }
    *p = s;
    return v;
}

static int cpus_error(const char *list, const char *why)
{
    fprintf(stderr, "busrtd: --cpu: '%s' is not a CPU list like 0,2-3 (%s); not starting\n",
            list, why);
    return -1;
}

int rt_parse_cpus(const char *s, unsigned char *set)
{
    char why[96];
    const char *p = s;
    for (;;) {
        const char *item = p;
        size_t ilen = strcspn(item, ",");
        if (ilen == 0) {
            return cpus_error(s, "an empty item");
        }
        long a = cpu_number(&p), b = a;
        if (a >= 0 && *p == '-') {
            p++;
            b = cpu_number(&p);
        }
        if (a == -2 || b == -2) {
            (void)snprintf(why, sizeof why, "CPU numbers are below %d", RT_MAX_CPUS);
            return cpus_error(s, why);
        }
        if (a < 0 || b < 0 || (p != item + ilen)) {
            (void)snprintf(why, sizeof why, "'%.*s' is not a CPU number or range N-M",
                           (int)(ilen > 40u ? 40u : ilen), item);
            return cpus_error(s, why);
        }
        if (b < a) {
            (void)snprintf(why, sizeof why, "the range %ld-%ld runs backwards", a, b);
            return cpus_error(s, why);
        }
        for (long c = a; set != NULL && c <= b; c++) {
            set[c / 8] = (unsigned char)(set[c / 8] | (1u << (c % 8)));
        }
        if (*p == '\0') {
            return 0;
        }
        p++; /* the comma */
        if (*p == '\0') {
            return cpus_error(s, "an empty item");
        }
    }
}

/* The CPUs of set as a list like "0,2-3" in buf. */
static void cpus_text(const cpu_set_t *set, size_t size, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    int n = (int)(size * 8u);
    for (int c = 0; c < n; c++) {
        if (!CPU_ISSET_S((size_t)c, size, set)) {
            continue;
        }
        int e = c;
        while (e + 1 < n && CPU_ISSET_S((size_t)(e + 1), size, set)) {
            e++;
        }
        int w = e > c ? snprintf(buf + off, cap - off, "%s%d-%d", off > 0 ? "," : "", c, e)
                      : snprintf(buf + off, cap - off, "%s%d", off > 0 ? "," : "", c);
        if (w < 0 || (size_t)w >= cap - off) {
            return; /* truncated: enough for a log line */
        }
        off += (size_t)w;
        c = e;
    }
}

static int apply_cpus(const char *list)
{
    unsigned char bits[RT_MAX_CPUS / 8];
    memset(bits, 0, sizeof bits);
    if (rt_parse_cpus(list, bits) != 0) {
        return -1; /* checked by config_parse already */
    }
    cpu_set_t *set = CPU_ALLOC(RT_MAX_CPUS);
    if (set == NULL) {
        log_error("--cpu %s: out of memory for a CPU set; exiting with status 2", list);
        return -1;
    }
    size_t size = CPU_ALLOC_SIZE(RT_MAX_CPUS);
    CPU_ZERO_S(size, set);
    for (size_t c = 0; c < RT_MAX_CPUS; c++) {
        if (((unsigned)bits[c / 8u] >> (c % 8u)) & 1u) {
            CPU_SET_S(c, size, set);
        }
    }
    char text[256];
    int rc = 0;
    if (sched_setaffinity(0, size, set) != 0) {
        int e = errno;
        char allowed[256] = "unknown";
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            cpus_text(set, size, allowed, sizeof allowed);
        }
        log_error("--cpu %s: sched_setaffinity failed: %s%s%s%s; exiting with status 2", list,
                  strerror(e),
                  e == EINVAL ? " (no CPU of the list is online and allowed to this process; "
                                "it may use "
                              : "",
                  e == EINVAL ? allowed : "", e == EINVAL ? ")" : "");
        rc = -1;
    } else if (sched_getaffinity(0, size, set) == 0) {
        cpus_text(set, size, text, sizeof text);
        log_info("CPU affinity set (--cpu %s): this process runs on CPUs %s", list, text);
    } else {
        log_info("CPU affinity set (--cpu %s)", list);
    }
    CPU_FREE(set);
    return rc;
}

static int apply_mlockall(void)
{
#ifdef RT_ASAN
    log_error("--mlockall: not available in a build with AddressSanitizer (it would lock the "
              "sanitizer's shadow memory, terabytes of address space); exiting with status 2");
    return -1;
#else
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        int e = errno;
        struct rlimit rl;
        char hint[200] = "";
        if ((e == ENOMEM || e == EPERM) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
            if (rl.rlim_cur == RLIM_INFINITY) {
                (void)snprintf(hint, sizeof hint, " (RLIMIT_MEMLOCK is unlimited)");
            } else {
                (void)snprintf(hint, sizeof hint,
                               " (RLIMIT_MEMLOCK is %llu KiB; raise it with ulimit -l or "
                               "LimitMEMLOCK=, or grant CAP_IPC_LOCK)",
                               (unsigned long long)rl.rlim_cur / 1024u);
            }
        }
        log_error("--mlockall: mlockall(MCL_CURRENT | MCL_FUTURE) failed: %s%s; exiting with "
                  "status 2",
                  strerror(e), hint);
        return -1;
    }
    log_info("memory locked (--mlockall): every current and future page stays in RAM");
    return 0;
#endif
}

static int apply_priority(int prio)
{
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = prio;
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
        int e = errno;
        char hint[200] = "";
        if (e == EPERM) {
            (void)snprintf(hint, sizeof hint,
                           " (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d; under "
                           "systemd LimitRTPRIO= and RestrictRealtime=no)",
                           prio);
        }
        log_error("--rt-priority %d: sched_setscheduler(SCHED_FIFO, %d) failed: %s%s; exiting "
                  "with status 2",
                  prio, prio, strerror(e), hint);
        return -1;
    }
    log_info("realtime scheduling (--rt-priority %d): SCHED_FIFO, priority %d", prio, prio);
    return 0;
}

int rt_apply(const struct config *cfg)
{
    if (cfg->cpu_list != NULL && apply_cpus(cfg->cpu_list) != 0) {
        return -1;
    }
    if (cfg->mlock_all && apply_mlockall() != 0) {
        return -1;
    }
    if (cfg->rt_priority > 0 && apply_priority(cfg->rt_priority) != 0) {
        return -1;
    }
    return 0;
}
