#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

/* busrtd's settings; an embedded broker selects its own (log_use). */
static struct log_cfg g_process;
#if defined(__FRAMAC__)
#define LOG_TLS
#else
#define LOG_TLS _Thread_local
#endif
static LOG_TLS struct log_cfg *L = &g_process;

struct log_cfg *log_use(struct log_cfg *cfg)
{
    struct log_cfg *old = L;
    L = cfg != NULL ? cfg : &g_process;
    return old;
}

void log_setup(int verbose, int use_syslog)
{
    L->verbose = verbose;
    L->syslog = use_syslog;
    tzset(); /* the time zone is read now, not by the first log line */
    if (use_syslog) {
        openlog("busrtd", LOG_PID, LOG_DAEMON);
    }
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    if (L->verbose < 0 || (lvl == LOG_LVL_DEBUG && L->verbose == 0)) {
        return;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (L->syslog) {
        syslog(prio[lvl], "%s", text);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "?";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        if (n > 0) {
            (void)snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000L);
        }
    }
    (void)fprintf(stderr, "%s %s %s %s\n", stamp, L->ident[0] != '\0' ? L->ident : "busrtd",
                  names[lvl], text);
}

void log_startup_error(const char *fmt, ...)
{
    if (L->verbose < 0) {
        return;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    (void)fprintf(stderr, "busrtd: %s\n", text);
    if (L->syslog) {
        syslog(LOG_ERR, "%s", text);
    }
}
