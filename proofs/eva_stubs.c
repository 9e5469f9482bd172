/* Models of the world around the broker for `make eva-broker` and
 * `make eva-full` (proofs/eva_broker_driver.c; proofs/README.md says why
 * each is sound). Not compiled into anything.
 *
 *   - read(), writev(): a socket that delivers 1..EVA_READ_MAX bytes of any
 *     value, end of file, EAGAIN, a connection error, or (once per loop
 *     turn) EINTR; that accepts any non-empty prefix of what is written,
 *     or fails with EAGAIN, EPIPE, or (once per turn) EINTR; after a
 *     partial write it is full (EAGAIN) until the next turn;
 *   - the multiplexer backend (ev.h's ev_ops, in place of ev_epoll.c,
 *     ev_poll.c and ev_select.c): remembers each descriptor's interest and
 *     reports any subset of the watched descriptors as ready for reading,
 *     writing or both, or fails with EINTR;
 *   - clock.c: a monotonic clock that advances by any amount between 0 and
 *     EVA_CLOCK_STEP_NS at each reading, and a wall clock of any value;
 *   - jansson (eva_stubs/jansson.h): the fixed access control file below;
 *     open and fstat of that file; inet_pton and strtoul for its strings;
 *   - notify.c without a service manager; memcmp, strcmp, strncmp,
 *     strnlen; strndup (mem_strndup in the analysis, see
 *     eva_stubs/eva_alloc.h); POSIX regular expressions of letters and
 *     digits (client.list's filter);
 *   - while the script of EVA_SCENES runs (eva_script), none of these
 *     fail: the socket delivers the script's bytes (eva_rd_*) and takes
 *     eva_wr_budget bytes, every watched descriptor is ready, and the
 *     clock advances by 1 ms per reading. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <regex.h>
#include <unistd.h>

#include "inproc.h"
#include "listener.h"

#include "__fc_builtin.h"
#include "../ref/src/broker/clock.h"
#include "../ref/src/broker/ev.h"
#include "../ref/src/broker/notify.h"
#include "eva_stubs.h"
#include "jansson.h"

#ifndef EVA_READ_MAX
#define EVA_READ_MAX 8
#endif
#define EVA_CLOCK_STEP_NS 3000000000LL /* 3 s: more than the 2 s timeout */

int eva_eintr_left;
int eva_socket_full;
int eva_script;

/* A failure the model may report, except while the script runs. */
static int eva_fails(void)
{
    return !eva_script && Frama_C_interval(0, 1);
}

/* ---- socket I/O ---------------------------------------------------------- */

/* The script's socket (EVA_SCENES): what the peer on eva_rd_fd sent. */
int eva_rd_fd = -1;
const uint8_t *eva_rd_src;
size_t eva_rd_left, eva_rd_chunk;
int eva_rd_eof;
size_t eva_wr_budget = SIZE_MAX;

static ssize_t script_read(int fd, uint8_t *buf, size_t count)
{
    if (fd != eva_rd_fd || eva_rd_left == 0u) {
        if (fd == eva_rd_fd && eva_rd_eof) {
            return 0;
        }
        errno = EAGAIN;
        return -1;
    }
    size_t n = count < eva_rd_chunk ? count : eva_rd_chunk;
    n = n < eva_rd_left ? n : eva_rd_left;
    memcpy(buf, eva_rd_src, n);
    eva_rd_src += n;
    eva_rd_left -= n;
    return (ssize_t)n;
}

ssize_t read(int fd, void *buf, size_t count)
{
    if (count == 0u) {
        return 0;
    }
    if (eva_script) {
        return script_read(fd, buf, count);
    }
    if (eva_eintr_left > 0 && Frama_C_interval(0, 1)) {
        eva_eintr_left--;
        errno = EINTR;
        return -1;
    }
    switch (Frama_C_interval(0, 3)) {
    case 0:
        errno = EAGAIN;
        return -1;
    case 1:
        errno = ECONNRESET;
        return -1;
    case 2:
        return 0;
    default:
        break;
    }
    size_t max = count < (size_t)EVA_READ_MAX ? count : (size_t)EVA_READ_MAX;
    size_t n = Frama_C_size_t_interval(1u, max);
    /* one state per length: which bytes were written is then exact */
    //@ split n;
    Frama_C_make_unknown((char *)buf, n);
    return (ssize_t)n;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    (void)fd;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        /* what the kernel reads: every byte must be readable */
        const volatile char *p = iov[i].iov_base;
        if (iov[i].iov_len > 0u) {
            (void)p[0];
            (void)p[iov[i].iov_len - 1u];
        }
        total += iov[i].iov_len;
    }
    if (eva_script) { /* the socket takes eva_wr_budget bytes, then blocks */
        size_t n = total < eva_wr_budget ? total : eva_wr_budget;
        if (n == 0u && total > 0u) {
            errno = EAGAIN;
            return -1;
        }
        if (eva_wr_budget != SIZE_MAX) {
            eva_wr_budget -= n;
        }
        return (ssize_t)n;
    }
    if (eva_eintr_left > 0 && Frama_C_interval(0, 1)) {
        eva_eintr_left--;
        errno = EINTR;
        return -1;
    }
    switch (Frama_C_interval(0, 2)) {
    case 0:
        errno = EAGAIN;
        return -1;
    case 1:
        errno = EPIPE;
        return -1;
    default:
        break;
    }
    if (total == 0u) {
        return 0;
    }
    /* A socket that took only part of a write is full: the next write of
     * this turn would block. */
    if (eva_socket_full) {
        errno = EAGAIN;
        return -1;
    }
    size_t n = Frama_C_size_t_interval(1u, total);
    if (n < total) {
        eva_socket_full = 1;
    }
    return (ssize_t)n;
}

/* ---- libc ------------------------------------------------------------------
 * Where Frama-C 25's specification is too weak for Eva or missing: strdup
 * and strnlen as C says they behave (the specifications leave the length
 * anywhere in [0, n] or the copy's contents unknown, which loses every
 * string mem_strdup and acl.c copy); memcmp, strcmp and strncmp (below);
 * strerror (no usable specification). */

char *strdup(const char *s)
{
    size_t n = strnlen(s, SIZE_MAX) + 1u;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

/* Comparisons as C defines them: Frama-C 25 has no Eva builtin for them,
 * and its specifications give any result of the right sign class, so
 * every comparison of known bytes would split the state in two. */
int memcmp(const void *s1, const void *s2, size_t n)
{
    const unsigned char *p = s1, *q = s2;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != q[i]) {
            return p[i] < q[i] ? -1 : 1;
        }
    }
    return 0;
}

int strncmp(const char *s1, const char *s2, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s1[i], d = (unsigned char)s2[i];
        if (c != d) {
            return c < d ? -1 : 1;
        }
        if (c == 0u) {
            break;
        }
    }
    return 0;
}

int strcmp(const char *s1, const char *s2)
{
    return strncmp(s1, s2, SIZE_MAX);
}

/* mem_strndup in the analysis (eva_stubs/eva_alloc.h). */
char *strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = malloc(len + 1u);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* POSIX regular expressions (coreapi.c, client.list's filter), which
 * Frama-C 25 declares without a specification. The model computes them
 * for the patterns it accepts: letters and digits only, an extended
 * expression that matches exactly the strings holding it as a substring;
 * any other pattern is an alarm (the assertion), so no other case is
 * assumed. Compiling may fail as regcomp can (no memory), except while the
 * script runs. client_list compiles one expression at a time and frees it
 * before the next; the model asserts that too. */
static char eva_re_pat[16];
static int eva_re_live;

int regcomp(regex_t *re, const char *pattern, int flags)
{
    (void)flags;
    size_t n = strlen(pattern);
    //@ assert model_literal: n < 16;
    for (size_t i = 0; i < n; i++) {
        char ch = pattern[i];
        //@ assert model_literal: ('a' <= ch <= 'z') || ('A' <= ch <= 'Z') || ('0' <= ch <= '9');
        (void)ch;
    }
    //@ assert model_one_at_a_time: eva_re_live == 0;
    if (eva_fails()) {
        return REG_ESPACE;
    }
    memcpy(eva_re_pat, pattern, n + 1u);
    eva_re_live = 1;
    memset(re, 0, sizeof *re);
    return 0;
}

int regexec(const regex_t *re, const char *s, size_t nmatch, regmatch_t pmatch[], int flags)
{
    (void)re;
    (void)nmatch;
    (void)pmatch;
    (void)flags;
    //@ assert model_compiled: eva_re_live == 1;
    for (size_t i = 0; s[i] != '\0' || eva_re_pat[0] == '\0'; i++) {
        size_t k = 0;
        while (eva_re_pat[k] != '\0' && s[i + k] == eva_re_pat[k]) {
            k++;
        }
        if (eva_re_pat[k] == '\0') {
            return 0;
        }
    }
    return REG_NOMATCH;
}

void regfree(regex_t *re)
{
    (void)re;
    eva_re_live = 0;
}

/* acl.c's parse_net: Frama-C 25's specifications of inet_pton and
 * strtoul return any value, which splits the policy's reading into
 * hundreds of states that differ only there. The models compute them as
 * POSIX and C define them for the strings the model's policy holds:
 * dotted IPv4 addresses, and prefixes of decimal digits. Any other string
 * is an alarm (the assertions), so no other case is assumed. */
int inet_pton(int af, const char *src, void *dst)
{
    uint8_t *out = dst;
    if (af != AF_INET) {
        //@ assert model_ipv4_only: af == AF_INET6;
        for (size_t i = 0; src[i] != '\0'; i++) {
            //@ assert model_ipv4_only: src[i] != ':';
        }
        return 0; /* every IPv6 text form has a colon */
    }
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0;
        size_t digits = 0;
        while (src[i] >= '0' && src[i] <= '9' && digits < 4u) {
            v = v * 10u + (unsigned)(src[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0u || digits > 3u || v > 255u || (digits > 1u && src[i - digits] == '0')) {
            return 0;
        }
        out[part] = (uint8_t)v;
        if (part < 3) {
            if (src[i] != '.') {
                return 0;
            }
            i++;
        }
    }
    return src[i] == '\0' ? 1 : 0;
}

unsigned long strtoul(const char *s, char **end, int base)
{
    //@ assert model_decimal: base == 10 && '0' <= s[0] <= '9';
    unsigned long v = 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i] - '0');
        v = v > (ULONG_MAX - d) / 10u ? ULONG_MAX : v * 10u + d;
        i++;
    }
    if (end != NULL) {
        *end = (char *)s + i;
    }
    return v;
}

/* Any message: only printed. */
char *strerror(int errnum)
{
    static char msg[] = "some error";
    (void)errnum;
    return msg;
}

/* acl.c's read_json: the file's status is any (a regular file, a
 * directory, anything else; any size), or fstat fails; while the script
 * runs, a regular file of 512 bytes. */
int fstat(int fd, struct stat *st)
{
    (void)fd;
    if (eva_fails()) {
        errno = EIO;
        return -1;
    }
    if (eva_script) { /* the script's policy file: a regular file */
        memset(st, 0, sizeof *st);
        st->st_mode = S_IFREG | 0600;
        st->st_size = 512;
        return 0;
    }
    Frama_C_make_unknown((char *)st, sizeof *st);
    return 0;
}

/* acl.c's read_json opens the policy file: any failure, except while the
 * script runs (Frama-C 25's specification always allows one). */
int open(const char *path, int flags, ...)
{
    (void)path;
    (void)flags;
    if (eva_fails()) {
        errno = EACCES;
        return -1;
    }
    return EVA_FDS; /* a descriptor the multiplexer never watches */
}

/* The stream only goes to json_loadf (the model reads nothing of it),
 * ferror and fclose, which report any outcome. */
static FILE eva_file;

FILE *fdopen(int fd, const char *mode)
{
    (void)fd;
    (void)mode;
    if (eva_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return &eva_file;
}

int ferror(FILE *f)
{
    (void)f;
    return eva_fails();
}

int fclose(FILE *f)
{
    (void)f;
    if (eva_fails()) {
        errno = EIO;
        return EOF;
    }
    return 0;
}

size_t strnlen(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != '\0') {
        i++;
    }
    return i;
}

/* ---- clock.c --------------------------------------------------------------- */

int64_t eva_mono = 1000000000LL;

int64_t now_ns(void)
{
    /* while the script runs, time is exact (1 ms per reading): deadlines
     * compared with an interval would split every state in two */
    eva_mono += eva_script ? 1000000LL : Frama_C_long_long_interval(0, EVA_CLOCK_STEP_NS);
    return eva_mono;
}

uint64_t wall_ns(void)
{
    return eva_script ? 1800000000000000000u
                      : (uint64_t)Frama_C_long_long_interval(0, INT64_MAX);
}

/* ---- the multiplexer backend --------------------------------------------- */

static unsigned eva_interest[EVA_FDS];
static int eva_ev_state;

static void *eva_ev_create(void)
{
    return &eva_ev_state;
}

static void eva_ev_destroy(void *st)
{
    (void)st;
}

static int eva_ev_set(void *st, int fd, unsigned old, unsigned mask)
{
    (void)st;
    (void)old;
    if (fd < 0 || fd >= EVA_FDS) {
        errno = ERANGE;
        return -1;
    }
    if (mask != 0u && eva_fails()) {
        errno = ENOMEM; /* epoll_ctl can fail so */
        return -1;
    }
    eva_interest[fd] = mask;
    return 0;
}

static int eva_ev_wait(void *st, const struct timespec *timeout, const sigset_t *sigmask,
                       struct ev_ready *out, int max)
{
    (void)st;
    (void)timeout;
    (void)sigmask;
    if (eva_fails()) {
        errno = EINTR;
        return -1;
    }
    /* any subset of the watched descriptors, ready for anything; while the
     * script runs, every one, ready for what it waits for */
    int n = 0;
    for (int fd = 0; fd < EVA_FDS && n < max; fd++) {
        if (eva_interest[fd] != 0u && (eva_script || Frama_C_interval(0, 1))) {
            out[n].fd = fd;
            out[n].events = eva_script ? eva_interest[fd] : (unsigned)Frama_C_interval(1, 3);
            n++;
        }
    }
    return n;
}

const struct ev_ops ev_epoll_ops = {"epoll", EVA_FDS, eva_ev_create, eva_ev_destroy,
                                    eva_ev_set, eva_ev_wait};
const struct ev_ops ev_poll_ops = {"poll", EVA_FDS, eva_ev_create, eva_ev_destroy,
                                   eva_ev_set, eva_ev_wait};
const struct ev_ops ev_select_ops = {"select", EVA_FDS, eva_ev_create, eva_ev_destroy,
                                     eva_ev_set, eva_ev_wait};

/* ---- jansson: the fixed access control file ------------------------------- */

/* EVA_ACL_TEXT, as the tree jansson builds from it:
 *   {"busrt_acl": 1, "clients": [
 *     {"name": "a", "unix_uids": [0, 1000], "message": ["b", ".broker"],
 *      "publish": ["t/#"], "subscribe": ["t/+", "u"], "broadcast": ["*"]},
 *     {"name": "b.*", "tcp": ["127.0.0.0/8"], "subscribe": []}]} */
struct eva_json {
    json_t j;
    const char *s;         /* JSON_STRING */
    json_int_t i;          /* JSON_INTEGER */
    size_t n;              /* JSON_ARRAY, JSON_OBJECT: members */
    const char *const *keys;     /* JSON_OBJECT */
    struct eva_json *const *v;   /* members */
};

#define STR(x) {{JSON_STRING}, x, 0, 0, NULL, NULL}
#define INT(x) {{JSON_INTEGER}, NULL, x, 0, NULL, NULL}

static struct eva_json s_a = STR("a"), s_b = STR("b"), s_broker = STR(".broker"),
                       s_thash = STR("t/#"), s_tplus = STR("t/+"), s_u = STR("u"),
                       s_star = STR("*"), s_bstar = STR("b.*"), s_net = STR("127.0.0.0/8"),
                       i_0 = INT(0), i_1000 = INT(1000), i_1 = INT(1);
static struct eva_json *const uids_v[] = {&i_0, &i_1000};
static struct eva_json *const msg_v[] = {&s_b, &s_broker};
static struct eva_json *const pub_v[] = {&s_thash};
static struct eva_json *const sub_v[] = {&s_tplus, &s_u};
static struct eva_json *const bc_v[] = {&s_star};
static struct eva_json *const tcp_v[] = {&s_net};
static struct eva_json a_uids = {{JSON_ARRAY}, NULL, 0, 2, NULL, uids_v},
                       a_msg = {{JSON_ARRAY}, NULL, 0, 2, NULL, msg_v},
                       a_pub = {{JSON_ARRAY}, NULL, 0, 1, NULL, pub_v},
                       a_sub = {{JSON_ARRAY}, NULL, 0, 2, NULL, sub_v},
                       a_bc = {{JSON_ARRAY}, NULL, 0, 1, NULL, bc_v},
                       a_tcp = {{JSON_ARRAY}, NULL, 0, 1, NULL, tcp_v},
                       a_empty = {{JSON_ARRAY}, NULL, 0, 0, NULL, NULL};
static const char *const e1_k[] = {"name", "unix_uids", "message", "publish", "subscribe",
                                   "broadcast"};
static struct eva_json *const e1_v[] = {&s_a, &a_uids, &a_msg, &a_pub, &a_sub, &a_bc};
static const char *const e2_k[] = {"name", "tcp", "subscribe"};
static struct eva_json *const e2_v[] = {&s_bstar, &a_tcp, &a_empty};
static struct eva_json o_e1 = {{JSON_OBJECT}, NULL, 0, 6, e1_k, e1_v},
                       o_e2 = {{JSON_OBJECT}, NULL, 0, 3, e2_k, e2_v};
static struct eva_json *const clients_v[] = {&o_e1, &o_e2};
static struct eva_json a_clients = {{JSON_ARRAY}, NULL, 0, 2, NULL, clients_v};
static const char *const root_k[] = {"busrt_acl", "clients"};
static struct eva_json *const root_v[] = {&i_1, &a_clients};
static struct eva_json o_root = {{JSON_OBJECT}, NULL, 0, 2, root_k, root_v};

static const struct eva_json *ej(const json_t *j)
{
    return (const struct eva_json *)(const void *)j;
}

json_t *json_loadf(FILE *input, size_t flags, json_error_t *error)
{
    (void)input;
    (void)flags;
    if (eva_fails()) {
        error->line = Frama_C_interval(-1, 1000);
        error->column = Frama_C_interval(-1, 1000);
        error->position = Frama_C_interval(0, 100000);
        error->source[0] = '\0';
        error->text[0] = '\0';
        return NULL;
    }
    return &o_root.j;
}

void json_decref(json_t *j)
{
    (void)j;
}

json_t *json_object_get(const json_t *o, const char *key)
{
    if (o == NULL || o->type != JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < ej(o)->n; i++) {
        if (strcmp(ej(o)->keys[i], key) == 0) {
            return &ej(o)->v[i]->j;
        }
    }
    return NULL;
}

const char *eva_json_key_at(const json_t *o, size_t i)
{
    return o != NULL && o->type == JSON_OBJECT && i < ej(o)->n ? ej(o)->keys[i] : NULL;
}

json_t *eva_json_value_at(const json_t *o, size_t i)
{
    return o != NULL && o->type == JSON_OBJECT && i < ej(o)->n ? &ej(o)->v[i]->j : NULL;
}

size_t json_array_size(const json_t *a)
{
    return a != NULL && a->type == JSON_ARRAY ? ej(a)->n : 0u;
}

json_t *json_array_get(const json_t *a, size_t i)
{
    return a != NULL && a->type == JSON_ARRAY && i < ej(a)->n ? &ej(a)->v[i]->j : NULL;
}

const char *json_string_value(const json_t *s)
{
    return s != NULL && s->type == JSON_STRING ? ej(s)->s : NULL;
}

size_t json_string_length(const json_t *s)
{
    return s != NULL && s->type == JSON_STRING ? strlen(ej(s)->s) : 0u;
}

json_int_t json_integer_value(const json_t *i)
{
    return i != NULL && i->type == JSON_INTEGER ? ej(i)->i : 0;
}

/* ---- notify.c ---------------------------------------------------------------
 * The analysed broker runs without a service manager (no NOTIFY_SOCKET:
 * notify.fd stays -1 from broker_init on), which is what notify.c's
 * functions do then. (Frama-C 25 crashes while typing notify.c.) */

int64_t notify_deadline(const struct notify *n)
{
    //@ assert no_service_manager: n->fd < 0;
    (void)n;
    return INT64_MAX;
}

void notify_close(struct notify *n)
{
    //@ assert no_service_manager: n->fd < 0;
    (void)n;
}

/* In-process connections (inproc.c, libbusrtd) and listening sockets
 * (listener.c) are not analysed: the driver's clients are sockets (link
 * NULL), the broker has no hub, and no listener is opened. Each model
 * asserts it is not reached, so a path into them would be an alarm. */
void inproc_wake(struct inproc_link *l)
{
    //@ assert not_reached: \false;
    (void)l;
}

void inproc_detach(struct inproc_link *l)
{
    //@ assert not_reached: \false;
    (void)l;
}

void inproc_loop_release(struct inproc_hub *h)
{
    //@ assert not_reached: \false;
    (void)h;
}

void inproc_loop_acquire(struct inproc_hub *h)
{
    //@ assert not_reached: \false;
    (void)h;
}

void inproc_fd_drain(int fd)
{
    //@ assert not_reached: \false;
    (void)fd;
}

int listener_accept(struct broker *b, struct listener *l)
{
    //@ assert not_reached: \false;
    (void)b;
    (void)l;
    return 0;
}
