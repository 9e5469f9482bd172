/* An LD_PRELOAD library that counts the calls of the C library's allocator
 * functions in the whole process it is loaded into (the program and every
 * library: the C library's own internal callers use these symbols too once
 * they are interposed), between two SIGUSR2 signals:
 *   the first SIGUSR2 switches counting on (the test sends it once the
 *   broker accepts connections), the second switches it off and writes one
 *   line of counts to the file named by BUSRT_ALLOC_COUNT (created or
 *   truncated), with write() only:
 *     malloc=N calloc=N realloc=N free=N posix_memalign=N aligned_alloc=N
 *     memalign=N valloc=N pvalloc=N reallocarray=N total=N
 * The allocations themselves are made by glibc's __libc_* entry points.
 * Used by `make soak-alloc` (ref/tests/soak/soak.mk). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);
void *memalign(size_t align, size_t n);
void *pvalloc(size_t n);

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_POSIX_MEMALIGN, C_ALIGNED_ALLOC, C_MEMALIGN,
       C_VALLOC, C_PVALLOC, C_REALLOCARRAY, C_N };
static const char *const names[C_N] = {"malloc", "calloc", "realloc", "free",
                                       "posix_memalign", "aligned_alloc", "memalign",
                                       "valloc", "pvalloc", "reallocarray"};
static volatile sig_atomic_t g_on;
static volatile sig_atomic_t g_phase; /* 0 before, 1 counting, 2 done */
static unsigned long long g_count[C_N];
static const char *g_file;

static void count(int k)
{
    if (g_on) {
        g_count[k]++;
    }
}

/* Appends the decimal digits of v at p; returns the new end. */
static char *put_u64(char *p, unsigned long long v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        *p++ = d[--n];
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

static void on_usr2(int sig)
{
    (void)sig;
    int saved = errno;
    if (g_phase == 0) {
        g_phase = 1;
        g_on = 1;
    } else if (g_phase == 1) {
        g_on = 0;
        g_phase = 2;
        char line[512], *p = line;
        unsigned long long total = 0;
        for (int k = 0; k < C_N; k++) {
            p = put_str(p, names[k]);
            *p++ = '=';
            p = put_u64(p, g_count[k]);
            *p++ = ' ';
            total += g_count[k];
        }
        p = put_str(p, "total=");
        p = put_u64(p, total);
        *p++ = '\n';
        if (g_file != NULL) {
            int fd = open(g_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                (void)!write(fd, line, (size_t)(p - line));
                (void)close(fd);
            }
        }
    }
    errno = saved;
}

__attribute__((constructor)) static void alloccount_init(void)
{
    g_file = getenv("BUSRT_ALLOC_COUNT");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGUSR2, &sa, NULL);
}

void *malloc(size_t n)
{
    count(C_MALLOC);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count(C_CALLOC);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count(C_REALLOC);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    count(C_FREE);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count(C_POSIX_MEMALIGN);
    if (align < sizeof(void *) || (align & (align - 1u)) != 0u) {
        return EINVAL;
    }
    void *p = __libc_memalign(align, n);
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    count(C_ALIGNED_ALLOC);
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    count(C_MEMALIGN);
    return __libc_memalign(align, n);
}

void *valloc(size_t n)
{
    count(C_VALLOC);
    return __libc_valloc(n);
}

void *pvalloc(size_t n)
{
    count(C_PVALLOC);
    return __libc_pvalloc(n);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    count(C_REALLOCARRAY);
    if (size != 0u && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n * size);
}
