/* Broker logging: one line per event, with a UTC timestamp, to stderr or
 * syslog. */
#ifndef BUSRTD_LOG_H
#define BUSRTD_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Where and what a broker logs. busrtd uses the process's settings; an
 * embedded broker (lib.c) has its own and selects them for the thread
 * that runs its code. */
struct log_cfg {
    int verbose;   /* 1 adds debug lines, 0 the default, -1 none */
    int syslog;    /* to syslog instead of standard error */
    char ident[32]; /* the name on standard-error lines; "" is "busrtd" */
};

/* Selects cfg (NULL: the process's) for the calling thread; returns the
 * settings selected before. */
struct log_cfg *log_use(struct log_cfg *cfg);

/* Sets the selected settings. verbose: 1 adds debug lines, 0 is the default, -1 silences every line
 * (in-process fuzzing). */
void log_setup(int verbose, int use_syslog);
void log_msg(enum log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A start-up error in the style of the option errors of config.c: one
 * line "busrtd: TEXT" on standard error (still the terminal before
 * daemonizing), and TEXT to syslog too when that is the log target. */
void log_startup_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
