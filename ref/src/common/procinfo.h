/* Another process's figures from Linux /proc, for the programs that watch a
 * broker from outside (busrt-bench, the soak test). Needs libc only. */
#ifndef BUSRT_PROCINFO_H
#define BUSRT_PROCINFO_H

#include <sys/types.h>

/* Its resident set (VmRSS of /proc/PID/status), kB, or -1 when it cannot
 * be read. */
long proc_rss_kb(pid_t pid);
/* Its open descriptors (entries of /proc/PID/fd), or -1 when they cannot be
 * listed (another user's process). */
long proc_fd_count(pid_t pid);

#endif
