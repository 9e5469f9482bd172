/* Another process's figures from Linux /proc (procinfo.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procinfo.h"

long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    (void)snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            char *end;
            errno = 0;
            long v = strtol(line + 6, &end, 10);
            if (end != line + 6 && errno == 0 && v >= 0) {
                kb = v;
            }
            break;
        }
    }
    (void)fclose(f);
    return kb;
}

long proc_fd_count(pid_t pid)
{
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    (void)closedir(d);
    return n;
}
