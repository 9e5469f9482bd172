#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "coreapi.h"
#include "ev.h"
#include "rt.h"

void config_usage(void)
{
    printf(
        "Usage: busrtd -B ADDR [-B ADDR ...] [OPTIONS]\n"
        "BUS/RT v1 reference broker (single-threaded event loop).\n"
        "\n"
        "Listeners:\n"
        "  -B, --bind ADDR          listen on ADDR: a UNIX socket path (ends in .sock,\n"
        "                           .socket or .ipc, or starts with /), HOST:PORT for TCP\n"
        "                           (PORT 0 to 65535; 0: a free port), or fifo:PATH for\n"
        "                           the line-command FIFO; repeatable. Relative paths\n"
        "                           (here, -P, --acl) are from the start-up directory\n"
        "Process:\n"
        "  -P, --pid-file FILE      write the process id to FILE, removed on exit\n"
        "  -D, --daemonize          detach and run in the background (in /), logging\n"
        "                           to syslog from then on\n"
        "  --verbose                log debug events too\n"
        "  --log-syslog             log to syslog instead of stderr\n"
        "  -w, --workers N          accepted for compatibility; ignored (one thread)\n"
        "  --io BACKEND             multiplexer: epoll (default), poll, or select (the\n"
        "                           minimal reference: descriptors below FD_SETSIZE only)\n"
        "Protocol:\n"
        "  --force-register         a duplicate name replaces the older connection\n"
        "  -t, --timeout SECONDS    I/O timeout, decimals allowed (default 5)\n"
        "  --buf-size BYTES         read buffer per client (default 16384)\n"
        "  --buf-ttl MICROSECONDS   longest delay of a non-realtime write (default 10)\n"
        "Limits:\n"
        "  --queue-size FRAMES      outgoing queue per client (default 8192)\n"
        "  --queue-bytes BYTES      outgoing queue bytes per client (default 67108864)\n"
        "  --payload-size-limit BYTES  largest frame body accepted (default 16777216,\n"
        "                           at most 4294901759)\n"
        "  --max-clients N          connected clients, handshakes included (default: the\n"
        "                           descriptor limit, raised to its hard limit at start,\n"
        "                           less 32; with --io select at most FD_SETSIZE less 32)\n"
        "  --max-name-len BYTES     longest client name (default and maximum 65535)\n"
        "  --max-topic-len BYTES    longest subscription or exclusion pattern (default 4096,\n"
        "                           at least 12: every client holds .broker/warn)\n"
        "  --max-subscriptions N    subscriptions per client (default 65536)\n"
        "  --max-exclusions N       exclusions per client (default 1024)\n"
        "  --max-handshakes N       connections still in the handshake (default 256)\n"
        "  --memory-limit BYTES     memory for everything held for clients, suffix K, M\n"
        "                           or G allowed (default: none; at least 1M)\n"
        "  --preallocate            reserve the --memory-limit budget at start; no\n"
        "                           allocation from the C library once running\n"
        "Access:\n"
        "  --acl FILE               access control file (JSON); SIGHUP reloads it\n"
        "  --socket-mode MODE       file mode of UNIX sockets, octal (default: umask)\n"
        "  --socket-group GROUP     group (name or id) of UNIX sockets\n"
        "Realtime (applied once the listeners are open; exit status 2 when refused):\n"
        "  --rt-priority N          run the loop with SCHED_FIFO priority N (1..99 on\n"
        "                           Linux; needs CAP_SYS_NICE or RLIMIT_RTPRIO >= N)\n"
        "  --cpu LIST               CPU affinity, a list like 0,2-3\n"
        "  --mlockall               lock every current and future page in RAM (needs\n"
        "                           CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK)\n"
        "Other:\n"
        "  -h, --help               show this help and exit\n"
        "  -V, --version            show the version and exit\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM or --help/--version; 1 on a start-up\n"
        "failure (listener, pid file, ACL file); 2 on a bad option or a refused\n"
        "realtime option.\n"
        "Under systemd (Type=notify) it sends READY=1, STATUS=, STOPPING=1, and\n"
        "WATCHDOG=1 every half WatchdogSec= (see busrtd(8), SYSTEMD).\n");
}

static void defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->timeout_ns = 5000000000LL;
    cfg->buf_size = 16384u;
    cfg->buf_ttl_ns = 10000LL;
    cfg->queue_size = 8192u;
    cfg->queue_bytes = 64u * 1024u * 1024u;
    cfg->payload_limit = 16u * 1024u * 1024u;
    cfg->max_clients = 0u; /* derived at start-up */
    cfg->io = ev_default();
    cfg->max_name_len = BUSRT_NAME_MAX;
    cfg->max_topic_len = 4096u;
    cfg->max_subscriptions = 65536u;
    cfg->max_exclusions = 1024u;
    cfg->max_handshakes = 256u;
    cfg->socket_mode = -1;
}

static int parse_size(const char *opt, const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "busrtd: %s: '%s' is not an integer in [%zu, %zu]\n", opt, s,
                lo, hi);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* BYTES with an optional K, M or G suffix (binary: 1024, 1024^2, 1024^3). */
static int parse_bytes(const char *opt, const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1u;
    if (end != s && end != NULL && *end != '\0' && end[1] == '\0') {
        mul = *end == 'K' || *end == 'k'   ? 1024u
              : *end == 'M' || *end == 'm' ? 1024u * 1024u
              : *end == 'G' || *end == 'g' ? 1024u * 1024u * 1024u
                                           : 0u;
        end += mul != 0u;
    }
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || mul == 0u ||
        v > ULLONG_MAX / mul || v * mul < lo || v * mul > hi) {
        fprintf(stderr, "busrtd: %s: '%s' is not a byte count in [%zu, %zu] (suffix K, M "
                "or G allowed)\n", opt, s, lo, hi);
        return -1;
    }
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_seconds(const char *opt, const char *s, int64_t *out_ns)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0.01 ||
        v > 86400.0) {
        fprintf(stderr, "busrtd: %s: '%s' is not a number of seconds in [0.01, 86400]\n",
                opt, s);
        return -1;
    }
    *out_ns = (int64_t)(v * 1e9);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int addr_is_unix(const char *addr)
{
    return addr[0] == '/' || ends_with(addr, ".sock") || ends_with(addr, ".socket") ||
           ends_with(addr, ".ipc");
}

int config_split_hostport(const char *addr, char host[CONFIG_HOST_MAX], uint16_t *port,
                          char *why, size_t whylen)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        (void)snprintf(why, whylen,
                       "expected a UNIX socket path (ending in .sock, .socket or .ipc, or "
                       "starting with /), HOST:PORT, or fifo:PATH");
        return -1;
    }
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (hl < 2u || addr[hl - 1u] != ']') {
            (void)snprintf(why, whylen, "expected [IPV6-ADDRESS]:PORT, as in [::1]:7777");
            return -1;
        }
        addr++; /* [::1]:7777 */
        hl -= 2u;
    }
    if (hl == 0u) {
        (void)snprintf(why, whylen, "the host before ':' is empty (0.0.0.0 or [::] means "
                                    "every address)");
        return -1;
    }
    const char *p = colon + 1;
    if (p[0] == '\0') {
        (void)snprintf(why, whylen, "the port after ':' is empty; expected a decimal number "
                                    "from 0 to 65535");
        return -1;
    }
    unsigned long v = 0;
    size_t digits = 0;
    for (; p[digits] >= '0' && p[digits] <= '9' && v <= 65535u; digits++) {
        v = v * 10u + (unsigned long)(p[digits] - '0');
    }
    if (p[digits] != '\0' || v > 65535u) {
        (void)snprintf(why, whylen, "port '%s' is not a decimal number from 0 to 65535", p);
        return -1;
    }
    if (hl >= CONFIG_HOST_MAX) {
        (void)snprintf(why, whylen, "the host is longer than %d bytes", CONFIG_HOST_MAX - 1);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return 0;
}

/* Checks a -B address before anything starts: a TCP one must have a host
 * and a valid port (config_split_hostport). */
static int check_bind(const char *addr)
{
    if (strncmp(addr, "fifo:", 5) == 0) {
        if (addr[5] == '\0') {
            fprintf(stderr, "busrtd: -B %s: the FIFO path after 'fifo:' is empty; not "
                            "starting\n", addr);
            return -1;
        }
        return 0;
    }
    if (addr_is_unix(addr)) {
        return 0;
    }
    char host[CONFIG_HOST_MAX], why[160];
    uint16_t port = 0;
    if (config_split_hostport(addr, host, &port, why, sizeof why) != 0) {
        fprintf(stderr, "busrtd: -B %s: %s; not starting\n", addr, why);
        return -1;
    }
    return 0;
}

/* A file name option's value must not be empty. */
static int nonempty(const char *opt, const char *v)
{
    if (v[0] == '\0') {
        fprintf(stderr, "busrtd: %s: the file name is empty; not starting\n", opt);
        return -1;
    }
    return 0;
}

/* Matches "--name VALUE", "--name=VALUE" or a short "-x VALUE". */
static int takes(const char *arg, const char *lng, const char *shrt, int *i, int argc,
                 char **argv, const char **val)
{
    size_t n = strlen(lng);
    if (strncmp(arg, lng, n) == 0 && arg[n] == '=') {
        *val = arg + n + 1;
        return 1;
    }
    if (strcmp(arg, lng) != 0 && (shrt == NULL || strcmp(arg, shrt) != 0)) {
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "busrtd: option %s needs a value\n", arg);
        *val = NULL;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int config_parse_for(struct config *cfg, int argc, char **argv, int embedded)
{
    defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        size_t sz = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            config_usage();
            return 1;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("busrtd %s (BUS/RT wire protocol 1)\n", BUSRT_VERSION_STRING);
            return 1;
        } else if (strcmp(a, "-D") == 0 || strcmp(a, "--daemonize") == 0) {
            cfg->daemonize = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            cfg->verbose = 1;
        } else if (strcmp(a, "--log-syslog") == 0) {
            cfg->log_syslog = 1;
        } else if (strcmp(a, "--force-register") == 0) {
            cfg->force_register = 1;
        } else if (strcmp(a, "--preallocate") == 0) {
            cfg->preallocate = 1;
        } else if (takes(a, "--bind", "-B", &i, argc, argv, &v)) {
            if (v == NULL) return -1;
            if (cfg->nbinds == CONFIG_MAX_BINDS) {
                fprintf(stderr, "busrtd: at most %d -B listeners\n", CONFIG_MAX_BINDS);
                return -1;
            }
            if (check_bind(v) != 0) return -1;
            cfg->bind_args[cfg->nbinds] = v;
            cfg->binds[cfg->nbinds++] = v;
        } else if (takes(a, "--pid-file", "-P", &i, argc, argv, &v)) {
            if (v == NULL || nonempty(a, v) != 0) return -1;
            cfg->pidfile = v;
        } else if (takes(a, "--workers", "-w", &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1024u, &sz) != 0) return -1;
        } else if (takes(a, "--timeout", "-t", &i, argc, argv, &v)) {
            if (v == NULL || parse_seconds(a, v, &cfg->timeout_ns) != 0) return -1;
        } else if (takes(a, "--buf-size", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 64u, 64u * 1024u * 1024u, &cfg->buf_size) != 0)
                return -1;
        } else if (takes(a, "--buf-ttl", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 0u, 1000000u, &sz) != 0) return -1;
            cfg->buf_ttl_ns = (int64_t)sz * 1000;
        } else if (takes(a, "--queue-size", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1u << 24, &cfg->queue_size) != 0) return -1;
        } else if (takes(a, "--queue-bytes", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1024u, (size_t)1 << 40, &cfg->queue_bytes) != 0)
                return -1;
        } else if (takes(a, "--payload-size-limit", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 0u, BUSRT_BODY_MAX, &sz) != 0) return -1;
            cfg->payload_limit = (uint32_t)sz;
        } else if (takes(a, "--max-clients", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1000000u, &cfg->max_clients) != 0) return -1;
        } else if (takes(a, "--max-name-len", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, BUSRT_NAME_MAX, &cfg->max_name_len) != 0)
                return -1;
        } else if (takes(a, "--max-topic-len", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1u << 24, &cfg->max_topic_len) != 0) return -1;
            if (cfg->max_topic_len < COREAPI_WARN_TOPIC_LEN) {
                /* every registration subscribes the client to it */
                fprintf(stderr, "busrtd: %s: %zu is shorter than the %zu bytes of the topic "
                        "%s, to which every client is subscribed; give at least %zu\n",
                        a, cfg->max_topic_len, COREAPI_WARN_TOPIC_LEN, COREAPI_WARN_TOPIC,
                        COREAPI_WARN_TOPIC_LEN);
                return -1;
            }
        } else if (takes(a, "--max-subscriptions", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1u << 24, &cfg->max_subscriptions) != 0)
                return -1;
        } else if (takes(a, "--max-exclusions", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1u << 20, &cfg->max_exclusions) != 0) return -1;
        } else if (takes(a, "--max-handshakes", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_size(a, v, 1u, 1000000u, &cfg->max_handshakes) != 0) return -1;
        } else if (takes(a, "--memory-limit", NULL, &i, argc, argv, &v)) {
            if (v == NULL || parse_bytes(a, v, (size_t)1 << 20, (size_t)1 << 40,
                                         &cfg->memory_limit) != 0)
                return -1;
        } else if (takes(a, "--acl", NULL, &i, argc, argv, &v)) {
            if (v == NULL || nonempty(a, v) != 0) return -1;
            cfg->acl_file = v;
        } else if (takes(a, "--socket-mode", NULL, &i, argc, argv, &v)) {
            char *end = NULL;
            if (v == NULL) return -1;
            unsigned long mode = strtoul(v, &end, 8);
            if (end == v || *end != '\0' || mode > 0777u) {
                fprintf(stderr, "busrtd: --socket-mode: '%s' is not an octal mode like 0660\n", v);
                return -1;
            }
            cfg->socket_mode = (int)mode;
        } else if (takes(a, "--io", NULL, &i, argc, argv, &v)) {
            if (v == NULL) return -1;
            if ((cfg->io = ev_find(v)) == NULL) {
                fprintf(stderr, "busrtd: --io: '%s' is not a backend (epoll, poll, select)\n", v);
                return -1;
            }
        } else if (takes(a, "--socket-group", NULL, &i, argc, argv, &v)) {
            if (v == NULL) return -1;
            cfg->socket_group = v;
        } else if (takes(a, "--rt-priority", NULL, &i, argc, argv, &v)) {
            if (v == NULL || rt_parse_priority(v, &cfg->rt_priority) != 0) return -1;
        } else if (takes(a, "--cpu", NULL, &i, argc, argv, &v)) {
            if (v == NULL || rt_parse_cpus(v, NULL) != 0) return -1;
            cfg->cpu_list = v;
        } else if (strcmp(a, "--mlockall") == 0) {
            cfg->mlock_all = 1;
        } else {
            fprintf(stderr, "busrtd: unknown option '%s' (see busrtd --help)\n", a);
            return -1;
        }
    }
    if (cfg->nbinds == 0 && !embedded) {
        fprintf(stderr, "busrtd: no listener given; use -B ADDR (see busrtd --help)\n");
        return -1;
    }
    if (embedded && cfg->daemonize) {
        fprintf(stderr, "busrtd: -D: an embedded broker cannot detach its process\n");
        return -1;
    }
    if (embedded && cfg->pidfile != NULL) {
        fprintf(stderr, "busrtd: -P %s: the process's pid file is the application's to write, "
                        "not an embedded broker's\n", cfg->pidfile);
        return -1;
    }
    if (cfg->preallocate && cfg->memory_limit == 0u) {
        fprintf(stderr, "busrtd: --preallocate needs --memory-limit (the size to reserve)\n");
        return -1;
    }
    if (cfg->preallocate && cfg->log_syslog) {
        fprintf(stderr, "busrtd: --preallocate cannot be used with --log-syslog (syslog() "
                        "allocates in the C library); log to standard error\n");
        return -1;
    }
    return 0;
}

/* Sets *path to cwd/PATH when *path is relative (prefix: "fifo:" or ""). */
static int absolute(struct config *cfg, const char *opt, const char *prefix, const char **path)
{
    const char *rel = *path + strlen(prefix);
    if (rel[0] == '/') {
        return 0;
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL) {
        fprintf(stderr, "busrtd: %s %s: cannot resolve the relative path: the current "
                        "directory is unknown (%s); not starting\n",
                opt, *path, strerror(errno));
        return -1;
    }
    size_t n = strlen(prefix) + strlen(cwd) + 1u + strlen(rel) + 1u;
    char *s = malloc(n);
    if (s == NULL) {
        fprintf(stderr, "busrtd: %s %s: out of memory; not starting\n", opt, *path);
        return -1;
    }
    (void)snprintf(s, n, "%s%s%s%s", prefix, cwd, strcmp(cwd, "/") == 0 ? "" : "/", rel);
    cfg->owned[cfg->nowned++] = s;
    *path = s;
    return 0;
}

int config_resolve_paths(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nbinds; i++) {
        const char *prefix = strncmp(cfg->binds[i], "fifo:", 5) == 0 ? "fifo:" : "";
        if ((prefix[0] != '\0' || addr_is_unix(cfg->binds[i])) &&
            absolute(cfg, "-B", prefix, &cfg->binds[i]) != 0) {
            return -1;
        }
    }
    if (cfg->pidfile != NULL && absolute(cfg, "-P", "", &cfg->pidfile) != 0) {
        return -1;
    }
    if (cfg->acl_file != NULL && absolute(cfg, "--acl", "", &cfg->acl_file) != 0) {
        return -1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nowned; i++) {
        free(cfg->owned[i]);
    }
    cfg->nowned = 0;
}

int config_parse(struct config *cfg, int argc, char **argv)
{
    return config_parse_for(cfg, argc, argv, 0);
}

size_t config_clients_fit(const struct config *cfg, size_t fds)
{
    if ((size_t)cfg->io->fd_limit < fds) {
        fds = (size_t)cfg->io->fd_limit;
    }
    size_t fit = fds > CONFIG_FD_RESERVE ? fds - CONFIG_FD_RESERVE : 1u;
    return fit > 1000000u ? 1000000u : fit;
}
