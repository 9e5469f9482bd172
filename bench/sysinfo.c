/* busrt-bench: the machine the run measured on: its description, and how
 * busy it was (load average, CPUs busy, this tool's share). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

static int read_cpu(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) {
        return -1;
    }
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4) {
        return -1;
    }
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    return 0;
}

static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1) {
            l = -1;
        }
        fclose(f);
    }
    return l;
}

/* CPU seconds of this process and of its waited-for children. */
static double own_cpu_seconds(void)
{
    double s = 0;
    const int who[2] = {RUSAGE_SELF, RUSAGE_CHILDREN};
    for (int i = 0; i < 2; i++) {
        struct rusage ru;
        if (getrusage(who[i], &ru) == 0) {
            s += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        }
    }
    return s;
}

void machine_start(struct machine *m, struct machine_mark *k)
{
    memset(m, 0, sizeof *m);
    memset(k, 0, sizeof *k);
    m->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    m->load1_start = loadavg1();
    (void)read_cpu(&k->busy, &k->total);
    k->start = now_ns();
    k->own = own_cpu_seconds();
    time_t now = time(NULL);
    struct tm tm;
    (void)gmtime_r(&now, &tm);
    (void)strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct utsname u;
    if (uname(&u) == 0) {
        (void)snprintf(m->uname, sizeof m->uname, "%.40s %.60s %.30s", u.sysname, u.release,
                       u.machine);
    }
}

void machine_end(struct machine *m, const struct machine_mark *k)
{
    unsigned long long busy = 0, total = 0;
    m->seconds = (double)(now_ns() - k->start) / 1e9;
    m->load1_end = loadavg1();
    if (read_cpu(&busy, &total) == 0 && total > k->total) {
        m->busy_cores = (double)(busy - k->busy) / (double)(total - k->total) * (double)m->ncpu;
    }
    m->own_cores = (own_cpu_seconds() - k->own) / m->seconds;
}
