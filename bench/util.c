/* Small helpers: clock, allocation, byte order, progress line, statistics. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1u : n);
    if (p == NULL) {
        fprintf(stderr, "busrt-bench: out of memory (%zu bytes)\n", n);
        _exit(3);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1u : n);
    if (q == NULL) {
        fprintf(stderr, "busrt-bench: out of memory (%zu bytes)\n", n);
        _exit(3);
    }
    return q;
}

void msg(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "busrt-bench[%ld]: %s\n", (long)getpid(), line);
}

void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1u;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int ms_left(int64_t deadline, int cap_ms)
{
    int64_t left = deadline - now_ns();
    if (left <= 0) {
        return 0;
    }
    int64_t ms = (left + 999999) / 1000000;
    return ms > cap_ms ? cap_ms : (int)ms;
}

void put_u64(uint8_t *p, uint64_t v)
{
    busrt_put_le32(p, (uint32_t)v);
    busrt_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)busrt_get_le32(p) | (uint64_t)busrt_get_le32(p + 4) << 32;
}

int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void close_fds_except(int keep)
{
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (int fd = 3; fd < (int)max; fd++) {
        if (fd != keep) {
            (void)close(fd);
        }
    }
}

size_t nofile_raise(char *err, size_t errlen)
{
    struct rlimit rl;
    if (errlen > 0) {
        err[0] = '\0';
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        (void)snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            (void)snprintf(err, errlen, "setrlimit(RLIMIT_NOFILE, %llu): %s",
                           (unsigned long long)want, strerror(errno));
            if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
                return 0;
            }
        }
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)SIZE_MAX) {
        return 0;
    }
    return (size_t)rl.rlim_cur;
}

ssize_t buf_read(int fd, uint8_t **rb, size_t *rcap, size_t *rs, size_t *re, size_t need)
{
    if (need > *rcap) {
        while (*rcap < need) {
            *rcap *= 2u;
        }
        *rb = xrealloc(*rb, *rcap);
    }
    if (*rs > 0 && (*rcap - *rs < need || *re == *rcap)) {
        memmove(*rb, *rb + *rs, *re - *rs);
        *re -= *rs;
        *rs = 0;
    }
    for (;;) {
        ssize_t r = read(fd, *rb + *re, *rcap - *re);
        if (r > 0) {
            *re += (size_t)r;
            return r;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        return -1;
    }
}

/* ---- progress ------------------------------------------------------------------ */

static struct {
    int quiet, tty;
    double total, done;
    int64_t start, last;
    char phase[160];
    size_t width;
} pg;

void progress_init(int quiet)
{
    memset(&pg, 0, sizeof pg);
    pg.quiet = quiet;
    pg.tty = isatty(STDERR_FILENO);
    pg.start = now_ns();
}

void progress_set_total(double units)
{
    pg.total = units;
}

static void progress_show(int force)
{
    if (pg.quiet) {
        return;
    }
    int64_t t = now_ns();
    int64_t every = pg.tty ? 250000000LL : 10000000000LL;
    if (!force && t - pg.last < every) {
        return;
    }
    pg.last = t;
    double el = (double)(t - pg.start) / 1e9;
    double frac = pg.total > 0 ? pg.done / pg.total : 0.0;
    if (frac > 1.0) {
        frac = 1.0;
    }
    char eta[32] = "";
    if (frac > 0.02) {
        (void)snprintf(eta, sizeof eta, ", ~%.0f s left", el / frac - el);
    }
    char line[256];
    int n = snprintf(line, sizeof line, "[busrt-bench %3.0f%% %5.0f s%s] %s", frac * 100.0,
                     el, eta, pg.phase);
    if (n < 0) {
        return;
    }
    size_t len = strlen(line);
    if (pg.tty) {
        size_t pad = pg.width > len ? pg.width - len : 0u;
        fprintf(stderr, "\r%s%*s", line, (int)pad, "");
        pg.width = len;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void progress_add(double units)
{
    pg.done += units;
    progress_show(0);
}

void progress_phase(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(pg.phase, sizeof pg.phase, fmt, ap);
    va_end(ap);
    progress_show(0);
}

const char *progress_text(void)
{
    return pg.phase;
}

void progress_done(void)
{
    if (!pg.quiet && pg.tty && pg.width > 0) {
        fprintf(stderr, "\r%*s\r", (int)pg.width, "");
        fflush(stderr);
    }
    pg.width = 0;
}

/* ---- statistics ---------------------------------------------------------------- */

void samples_add(struct samples *s, int64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap == 0 ? 1024u : s->cap * 2u;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

void samples_free(struct samples *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void samples_sort(struct samples *s)
{
    if (s->n > 1) {
        qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    }
}

int64_t samples_pct(const struct samples *sorted, double p)
{
    if (sorted->n == 0) {
        return -1;
    }
    /* nearest rank: the smallest value with at least p of the samples at or
     * below it */
    double r = p * (double)sorted->n;
    size_t k = (size_t)r;
    if ((double)k < r) {
        k++;
    }
    if (k == 0) {
        k = 1;
    }
    if (k > sorted->n) {
        k = sorted->n;
    }
    return sorted->v[k - 1u];
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median_d(double *v, size_t n)
{
    if (n == 0) {
        return 0.0;
    }
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2u == 1u ? v[n / 2u] : (v[n / 2u - 1u] + v[n / 2u]) / 2.0;
}
