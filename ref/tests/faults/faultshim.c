/* faultshim: an LD_PRELOAD library that injects I/O faults into socket calls
 * of the process it is loaded into (the broker under test).
 *
 * On file descriptors that are sockets (fstat S_ISSOCK; files, FIFOs, ttys
 * and pipes pass through untouched) it randomly makes
 *   read, readv, recv, recvfrom   return a short count (at least 1 byte),
 *                                 or -1/EINTR, or -1/EAGAIN;
 *   write, writev, send, sendto,
 *   sendmsg                       write a short count (at least 1 byte),
 *                                 or return -1/EINTR, or -1/EAGAIN;
 *   accept, accept4               return -1/EINTR or -1/EAGAIN.
 * EAGAIN is injected only on non-blocking descriptors (O_NONBLOCK, or
 * MSG_DONTWAIT in the flags), where the kernel itself may return it. EINTR
 * and EAGAIN are injected before the real call, so the call has no effect;
 * a short transfer is the real call with a smaller count.
 *
 * Environment (all optional):
 *   BUSRT_FAULT_SEED=N      seed of the generator (default 1); same seed and
 *                           same call sequence give the same faults
 *   BUSRT_FAULT_SHORT=P     per-mille chance of a short transfer (default 250)
 *   BUSRT_FAULT_EINTR=P     per-mille chance of EINTR (default 100)
 *   BUSRT_FAULT_EAGAIN=P    per-mille chance of EAGAIN (default 100)
 *   BUSRT_FAULT_OPS=LIST    which calls get faults: any of read, write,
 *                           accept, comma-separated (default all three)
 *   BUSRT_FAULT_COUNTS=FILE at exit, append one line with the counts of the
 *                           faults injected (see dump_counts) to FILE
 *   BUSRT_FAULT_VERBOSE=1   also print that line to stderr
 * The three chances are tried in the order EINTR, EAGAIN, short. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Public entry points (interposed libc functions) are declared by the libc
 * headers; the helpers below are static. */

enum fault_kind {
    K_READ_SHORT,
    K_READ_EINTR,
    K_READ_EAGAIN,
    K_WRITE_SHORT,
    K_WRITE_EINTR,
    K_WRITE_EAGAIN,
    K_ACCEPT_EINTR,
    K_ACCEPT_EAGAIN,
    K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "read_short",  "read_eintr",    "read_eagain",   "write_short",
    "write_eintr", "write_eagain",  "accept_eintr",  "accept_eagain",
};

static unsigned long long g_counts[K_COUNT];
static unsigned long long g_socket_calls; /* socket calls seen, faulted or not */
static uint64_t g_rng = 1;
static unsigned g_p_short = 250, g_p_eintr = 100, g_p_eagain = 100;
static int g_ops = 7; /* bit 0 read, bit 1 write, bit 2 accept */
static int g_ready;

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
/* glibc declares the address arguments as transparent unions under
 * _GNU_SOURCE; its own macros keep the definitions compatible. */
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*accept_fn)(int, __SOCKADDR_ARG, socklen_t *);
typedef int (*accept4_fn)(int, __SOCKADDR_ARG, socklen_t *, int);

static read_fn real_read;
static readv_fn real_readv;
static recv_fn real_recv;
static recvfrom_fn real_recvfrom;
static write_fn real_write;
static writev_fn real_writev;
static send_fn real_send;
static sendto_fn real_sendto;
static sendmsg_fn real_sendmsg;
static accept_fn real_accept;
static accept4_fn real_accept4;

/* dlsym returns void *; converting it to a function pointer is what POSIX
 * requires to work, but ISO C does not define it: go through memcpy. */
static void *sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

#define LOAD(var, name)                                                                    \
    do {                                                                                   \
        void *p_ = sym(name);                                                              \
        memcpy(&(var), &p_, sizeof(var));                                                  \
    } while (0)

static unsigned env_permille(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    unsigned long x = strtoul(v, NULL, 10);
    return x > 1000ul ? 1000u : (unsigned)x;
}

static void dump_counts(void);

static void init(void)
{
    if (g_ready) {
        return;
    }
    LOAD(real_read, "read");
    LOAD(real_readv, "readv");
    LOAD(real_recv, "recv");
    LOAD(real_recvfrom, "recvfrom");
    LOAD(real_write, "write");
    LOAD(real_writev, "writev");
    LOAD(real_send, "send");
    LOAD(real_sendto, "sendto");
    LOAD(real_sendmsg, "sendmsg");
    LOAD(real_accept, "accept");
    LOAD(real_accept4, "accept4");
    const char *s = getenv("BUSRT_FAULT_SEED");
    uint64_t seed = (s != NULL && *s != '\0') ? (uint64_t)strtoull(s, NULL, 10) : 1u;
    g_rng = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    g_p_short = env_permille("BUSRT_FAULT_SHORT", 250);
    g_p_eintr = env_permille("BUSRT_FAULT_EINTR", 100);
    g_p_eagain = env_permille("BUSRT_FAULT_EAGAIN", 100);
    const char *ops = getenv("BUSRT_FAULT_OPS");
    if (ops != NULL && *ops != '\0') {
        g_ops = (strstr(ops, "read") != NULL ? 1 : 0) | (strstr(ops, "write") != NULL ? 2 : 0) |
                (strstr(ops, "accept") != NULL ? 4 : 0);
    }
    g_ready = 1;
}

__attribute__((constructor)) static void shim_load(void)
{
    init();
    (void)atexit(dump_counts);
}

/* splitmix64 */
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int chance(unsigned permille)
{
    return permille > 0u && (unsigned)(rnd() % 1000u) < permille;
}

static int is_socket(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int nonblocking(int fd, int flags)
{
    if ((flags & MSG_DONTWAIT) != 0) {
        return 1;
    }
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK) != 0;
}

enum verdict { V_PASS, V_EINTR, V_EAGAIN, V_SHORT };

/* Decides the fate of one call. dir: 0 read, 1 write, 2 accept. n: bytes
 * asked for (a short transfer needs n >= 2). */
static enum verdict decide(int fd, int dir, size_t n, int flags)
{
    init();
    if (!is_socket(fd)) {
        return V_PASS;
    }
    g_socket_calls++;
    if ((g_ops & (1 << dir)) == 0) {
        return V_PASS;
    }
    if (chance(g_p_eintr)) {
        g_counts[dir == 0 ? K_READ_EINTR : dir == 1 ? K_WRITE_EINTR : K_ACCEPT_EINTR]++;
        return V_EINTR;
    }
    if (nonblocking(fd, flags) && chance(g_p_eagain)) {
        g_counts[dir == 0 ? K_READ_EAGAIN : dir == 1 ? K_WRITE_EAGAIN : K_ACCEPT_EAGAIN]++;
        return V_EAGAIN;
    }
    if (dir != 2 && n >= 2u && chance(g_p_short)) {
        g_counts[dir == 0 ? K_READ_SHORT : K_WRITE_SHORT]++;
        return V_SHORT;
    }
    return V_PASS;
}

/* A length in [1, n - 1] (n >= 2). */
static size_t short_len(size_t n)
{
    return 1u + (size_t)(rnd() % (uint64_t)(n - 1u));
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t t = 0;
    for (int i = 0; i < cnt; i++) {
        t += iov[i].iov_len;
    }
    return t;
}

/* Copies iov into out, cut to at most limit bytes; returns the new count. */
static int iov_cut(const struct iovec *iov, int cnt, size_t limit, struct iovec *out, int cap)
{
    int k = 0;
    for (int i = 0; i < cnt && k < cap && limit > 0u; i++) {
        out[k] = iov[i];
        if (out[k].iov_len > limit) {
            out[k].iov_len = limit;
        }
        limit -= out[k].iov_len;
        k++;
    }
    return k;
}

static ssize_t fail(int err)
{
    errno = err;
    return -1;
}

/* ---- reads ---------------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t n)
{
    switch (decide(fd, 0, n, 0)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_read(fd, buf, short_len(n));
    default: return real_read(fd, buf, n);
    }
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    switch (decide(fd, 0, n, flags)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_recv(fd, buf, short_len(n), flags);
    default: return real_recv(fd, buf, n, flags);
    }
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG sa, socklen_t *sl)
{
    switch (decide(fd, 0, n, flags)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_recvfrom(fd, buf, short_len(n), flags, sa, sl);
    default: return real_recvfrom(fd, buf, n, flags, sa, sl);
    }
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    size_t total = cnt > 0 ? iov_total(iov, cnt) : 0u;
    switch (decide(fd, 0, total, 0)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: {
        struct iovec cut[64];
        int k = iov_cut(iov, cnt, short_len(total), cut, 64);
        return real_readv(fd, cut, k);
    }
    default: return real_readv(fd, iov, cnt);
    }
}

/* ---- writes --------------------------------------------------------------- */

ssize_t write(int fd, const void *buf, size_t n)
{
    switch (decide(fd, 1, n, 0)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_write(fd, buf, short_len(n));
    default: return real_write(fd, buf, n);
    }
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    switch (decide(fd, 1, n, flags)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_send(fd, buf, short_len(n), flags);
    default: return real_send(fd, buf, n, flags);
    }
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG sa,
               socklen_t sl)
{
    switch (decide(fd, 1, n, flags)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: return real_sendto(fd, buf, short_len(n), flags, sa, sl);
    default: return real_sendto(fd, buf, n, flags, sa, sl);
    }
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    size_t total = cnt > 0 ? iov_total(iov, cnt) : 0u;
    switch (decide(fd, 1, total, 0)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: {
        struct iovec cut[1024];
        int k = iov_cut(iov, cnt, short_len(total), cut, 1024);
        return real_writev(fd, cut, k);
    }
    default: return real_writev(fd, iov, cnt);
    }
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    size_t total = msg->msg_iovlen > 0u ? iov_total(msg->msg_iov, (int)msg->msg_iovlen) : 0u;
    switch (decide(fd, 1, total, flags)) {
    case V_EINTR: return fail(EINTR);
    case V_EAGAIN: return fail(EAGAIN);
    case V_SHORT: {
        struct iovec cut[1024];
        struct msghdr m = *msg;
        m.msg_iov = cut;
        m.msg_iovlen = (size_t)iov_cut(msg->msg_iov, (int)msg->msg_iovlen, short_len(total),
                                       cut, 1024);
        return real_sendmsg(fd, &m, flags);
    }
    default: return real_sendmsg(fd, msg, flags);
    }
}

/* ---- accept --------------------------------------------------------------- */

int accept(int fd, __SOCKADDR_ARG sa, socklen_t *sl)
{
    switch (decide(fd, 2, 0, 0)) {
    case V_EINTR: return (int)fail(EINTR);
    case V_EAGAIN: return (int)fail(EAGAIN);
    default: return real_accept(fd, sa, sl);
    }
}

int accept4(int fd, __SOCKADDR_ARG sa, socklen_t *sl, int flags)
{
    switch (decide(fd, 2, 0, 0)) {
    case V_EINTR: return (int)fail(EINTR);
    case V_EAGAIN: return (int)fail(EAGAIN);
    default: return real_accept4(fd, sa, sl, flags);
    }
}

/* ---- counts --------------------------------------------------------------- */

static void dump_counts(void)
{
    char line[512];
    int n = snprintf(line, sizeof line, "faultshim pid=%ld socket_calls=%llu",
                     (long)getpid(), g_socket_calls);
    for (int i = 0; i < K_COUNT && n > 0 && (size_t)n < sizeof line; i++) {
        n += snprintf(line + n, sizeof line - (size_t)n, " %s=%llu", kind_names[i],
                      g_counts[i]);
    }
    if (n <= 0 || (size_t)n >= sizeof line - 1u) {
        return;
    }
    line[n++] = '\n';
    const char *path = getenv("BUSRT_FAULT_COUNTS");
    if (path != NULL && *path != '\0') {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)real_write(fd, line, (size_t)n);
            (void)close(fd);
        }
    }
    const char *v = getenv("BUSRT_FAULT_VERBOSE");
    if (v != NULL && strcmp(v, "1") == 0) {
        (void)real_write(2, line, (size_t)n);
    }
}
