/* Broker configuration: command-line options and every limit, with the
 * defaults documented in busrtd --help and spec/busrt-v1.md (limits). */
#ifndef BUSRTD_CONFIG_H
#define BUSRTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_BINDS 16

struct ev_ops;

struct config {
    const char *binds[CONFIG_MAX_BINDS]; /* -B, in order; paths made absolute
                                            by config_resolve_paths */
    const char *bind_args[CONFIG_MAX_BINDS]; /* -B as given */
    size_t nbinds;
    const char *pidfile;      /* -P */
    int daemonize;            /* -D */
    int verbose;              /* --verbose */
    int log_syslog;           /* --log-syslog */
    int force_register;       /* --force-register */
    int64_t timeout_ns;       /* -t, default 5 s */
    size_t buf_size;          /* --buf-size: read buffer per client */
    int64_t buf_ttl_ns;       /* --buf-ttl (microseconds on the command line) */
    size_t queue_size;        /* --queue-size: frames per client queue */
    size_t queue_bytes;       /* --queue-bytes: bytes per client queue */
    uint32_t payload_limit;   /* --payload-size-limit: max frame body */
    size_t max_clients;       /* --max-clients; 0: derived from the descriptor
                                 limit at start-up (main.c) */
    size_t max_name_len;      /* --max-name-len */
    size_t max_topic_len;     /* --max-topic-len: subscription pattern bytes */
    size_t max_subscriptions; /* --max-subscriptions per client */
    size_t max_exclusions;    /* --max-exclusions per client */
    size_t max_handshakes;    /* --max-handshakes: clients not yet registered */
    const char *acl_file;     /* --acl: access control file, or NULL */
    int socket_mode;          /* --socket-mode: UNIX socket file mode, or -1 */
    const char *socket_group; /* --socket-group: UNIX socket file group, or NULL */
    const struct ev_ops *io;  /* --io: multiplexer backend (ev.h), default epoll */
    char *owned[CONFIG_MAX_BINDS + 2]; /* strings config_resolve_paths made */
    size_t nowned;
    /* Realtime (rt.c), applied once the listeners are open. */
    int rt_priority;          /* --rt-priority: SCHED_FIFO priority; 0: not asked */
    const char *cpu_list;     /* --cpu: CPU affinity list such as "0,2-3", or NULL */
    int mlock_all;            /* --mlockall */
    size_t memory_limit;      /* --memory-limit: bytes for everything held for
                                 peers (mem.c); 0: no limit */
    int preallocate;          /* --preallocate: the budget is reserved at start */
};

/* Parses argv into cfg (defaults first). Returns 0 to run, 1 when --help
 * or --version was printed (exit 0), -1 on a bad option (a one-line error
 * was printed; exit 2). */
int config_parse(struct config *cfg, int argc, char **argv);
/* config_parse for busrtd (embedded 0: a -B is required) or for an
 * embedded broker (lib.c; embedded 1: no listener is needed, -D and -P
 * are refused). */
int config_parse_for(struct config *cfg, int argc, char **argv, int embedded);

void config_usage(void);

/* Makes every relative path option absolute, against the current
 * directory: UNIX socket and fifo: listeners, the pid file, the access
 * control file. Called once at start-up, before daemonizing changes the
 * directory to /, so that the files written, reloaded and removed later are
 * the ones the command line named. Returns 0, or -1 after printing why. */
int config_resolve_paths(struct config *cfg);
/* Descriptors kept for the process itself: standard streams, listeners,
 * the FIFO, the multiplexer, the spare one, the pid file, syslog. */
#define CONFIG_FD_RESERVE 32u
/* The clients fds descriptors allow with the backend of cfg, at most
 * 1,000,000 (the default of --max-clients). */
size_t config_clients_fit(const struct config *cfg, size_t fds);
/* Frees what config_resolve_paths allocated. */
void config_free(struct config *cfg);

/* 1 when addr names a UNIX socket: it ends in .sock, .socket or .ipc, or
 * starts with '/'. */
int addr_is_unix(const char *addr);

/* The longest host part of a TCP listener address, NUL included. */
#define CONFIG_HOST_MAX 256

/* Splits a TCP listener address HOST:PORT (an IPv6 HOST in brackets, as in
 * [::1]:7777) at its last ':'. PORT must be a decimal number from 0 to
 * 65535, digits only (0: the kernel picks a free port). Returns 0, or -1
 * with a one-line reason in why. */
int config_split_hostport(const char *addr, char host[CONFIG_HOST_MAX], uint16_t *port,
                          char *why, size_t whylen);

#endif
