/* CPU placement for the placement probe: pins this process, or every
 * thread of another process, to one CPU of the original mask, and restores
 * the original mask. Linux-specific (sched_setaffinity), hence _GNU_SOURCE. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"

static cpu_set_t g_orig;
static int g_have_orig;
static cpu_set_t g_saved[MAX_TARGETS + 2];
static int g_have_saved[MAX_TARGETS + 2];

int affinity_init(int *cpus, int max)
{
    if (sched_getaffinity(0, sizeof g_orig, &g_orig) != 0) {
        return 0;
    }
    g_have_orig = 1;
    int n = 0;
    for (size_t c = 0; c < (size_t)CPU_SETSIZE && n < max; c++) {
        if (CPU_ISSET(c, &g_orig)) {
            cpus[n++] = (int)c;
        }
    }
    return n;
}

/* Applies set to every thread of pid (0: this process). */
static int set_all_threads(pid_t pid, const cpu_set_t *set)
{
    if (pid == 0) {
        return sched_setaffinity(0, sizeof *set, set);
    }
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return sched_setaffinity(pid, sizeof *set, set);
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid > 0 && sched_setaffinity((pid_t)tid, sizeof *set, set) != 0) {
            rc = -1;
        }
    }
    (void)closedir(d);
    return rc;
}

int pin_save(pid_t pid, int slot)
{
    if (slot < 0 || slot >= MAX_TARGETS + 2 ||
        sched_getaffinity(pid, sizeof g_saved[slot], &g_saved[slot]) != 0) {
        return -1;
    }
    g_have_saved[slot] = 1;
    return 0;
}

int pin_restore(pid_t pid, int slot)
{
    if (slot < 0 || slot >= MAX_TARGETS + 2 || !g_have_saved[slot]) {
        return -1;
    }
    return set_all_threads(pid, &g_saved[slot]);
}

int pin_restore_main(pid_t pid, int slot)
{
    if (slot < 0 || slot >= MAX_TARGETS + 2 || !g_have_saved[slot]) {
        return -1;
    }
    return sched_setaffinity(pid, sizeof g_saved[slot], &g_saved[slot]);
}

int pin_to(pid_t pid, int cpu)
{
    cpu_set_t set;
    if (cpu < 0) {
        if (!g_have_orig) {
            return -1;
        }
        set = g_orig;
    } else {
        CPU_ZERO(&set);
        CPU_SET((size_t)cpu, &set);
    }
    return set_all_threads(pid, &set);
}

pid_t peer_pid(int fd)
{
    struct ucred uc;
    socklen_t l = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) != 0 || uc.pid <= 0) {
        return -1;
    }
    return uc.pid;
}
