/* Broker configuration: command-line options and every limit, with the
 * defaults documented in busrtd --help and spec/busrt-v1.md (limits). */
#ifndef BUSRTD_CONFIG_H
#define BUSRTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_BINDS 16

struct ev_ops;

struct config {
    const char *binds[CONFIG_MAX_BINDS]; /* -B, in order */
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
    size_t memory_limit;      /* --memory-limit: bytes for everything held for
                                 peers (mem.c); 0: no limit */
    int preallocate;          /* --preallocate: the budget is reserved at start */
};

/* Parses argv into cfg (defaults first). Returns 0 to run, 1 when --help
 * or --version was printed (exit 0), -1 on a bad option (a one-line error
 * was printed; exit 2). */
int config_parse(struct config *cfg, int argc, char **argv);

void config_usage(void);

#endif
