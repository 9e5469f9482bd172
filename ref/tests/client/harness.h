/* Helpers for the libbusrt / busrt CLI tests: start and stop a private
 * broker (mkdtemp under /tmp), bounded waits, and running the CLI.
 *
 * Environment:
 *   BUSRTD             broker binary (default build/obj/busrtd)
 *   BUSRT_CLI          CLI binary (default build/busrt)
 *   BUSRT_CLI_WRAPPER  words put before the CLI (e.g. a valgrind command)
 *   BUSRT_TEST_SLOW=1  scale every timeout by 5 (valgrind runs)
 *   BUSRT_TEST_BROKER_LOG=1  copy each broker's log to stderr when it stops
 *   BUSRT_TEST_INPROC=1 (with the harness built with BUSRT_TH_INPROC and
 *                      linked with libbusrtd): th_broker_start embeds the
 *                      broker (busrtd_create, same options, on its own
 *                      thread; it logs to standard error) and th_connect
 *                      to its socket path connects in-process */
#ifndef BUSRT_CT_HARNESS_H
#define BUSRT_CT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "busrt/client.h"

struct th_broker {
    pid_t pid;
    char dir[64];   /* /tmp/busrt-ct-XXXXXX */
    char sock[100]; /* <dir>/bus.sock */
    char log[128];  /* <dir>/busrtd.log: the broker's stdout and stderr */
    int port;       /* TCP port when started with th_broker_start_tcp, else 0 */
    char tcp[64];   /* "127.0.0.1:<port>" */
    void *emb;      /* the embedded broker (busrtd *) in in-process mode */
};

/* Ignores SIGPIPE; call once. */
void th_init(void);
int th_slow(void);
/* 1 in in-process mode (BUSRT_TEST_INPROC=1): tests that need a broker
 * process of their own (signals, exit status, the CLI, a fake broker)
 * skip. */
int th_inproc(void);
/* ms scaled for slow (valgrind) runs. */
int th_ms(int ms);
int64_t th_now_ms(void);
void th_sleep_ms(int ms);
int th_free_tcp_port(void);

/* Starts BUSRTD -B <sock> [extra...] (extra NULL-terminated, may be NULL)
 * and waits until the socket accepts connections. Returns 0 or -1. */
int th_broker_start(struct th_broker *b, const char *const *extra);
/* Same with a TCP listener on 127.0.0.1 too. */
int th_broker_start_tcp(struct th_broker *b, const char *const *extra);
/* SIGTERM, bounded wait (SIGKILL after it), removes the temp dir. Returns
 * the exit status or -1. */
int th_broker_stop(struct th_broker *b);
void th_broker_signal(const struct th_broker *b, int sig);
/* The broker a test group shares, as cmocka group set-up and teardown:
 * started with a UNIX socket (_tcp: and a TCP listener), stopped at the
 * end of the group. */
extern struct th_broker th_group;
int th_group_setup(void **state);
int th_group_setup_tcp(void **state);
int th_group_teardown(void **state);
/* Creates and returns an empty file path inside the broker's dir. */
const char *th_path(const struct th_broker *b, const char *file, char *buf, size_t cap);

/* Connects with the default configuration (connect timeout scaled). */
int th_connect(const char *addr, const char *name, busrt_client **out);
/* th_connect that must succeed: on failure it prints the address, name and
 * error and fails the running cmocka test. */
busrt_client *th_connect_ok(const char *addr, const char *name);

/* ---- Running the CLI ------------------------------------------------------- */

/* Runs [WRAPPER] BUSRT_CLI args... (NULL-terminated) with stdin from the
 * given bytes (NULL: /dev/null); stdout and stderr are captured into the
 * buffers (NUL-terminated, truncated to cap - 1). Kills it after
 * timeout_ms. Returns the exit status (128 + signal when killed), or -1. */
int th_cli_run(const struct th_broker *b, const char *const *args, const void *in, size_t in_len,
               char *out, size_t out_cap, char *err, size_t err_cap, int timeout_ms);
/* Starts the CLI in the background with stdout/stderr to files. */
pid_t th_cli_spawn(const struct th_broker *b, const char *const *args, const char *out_path,
                   const char *err_path);
/* Waits until the file contains needle. Returns 0 or -1 on timeout. */
int th_wait_file(const char *path, const char *needle, int timeout_ms);
/* SIGTERM then wait (bounded; SIGKILL after). Returns the exit status. */
int th_cli_stop(pid_t pid, int timeout_ms);
/* Reads a whole (small) file into buf, NUL-terminated. */
long th_read_file(const char *path, char *buf, size_t cap);

/* ---- A scripted fake broker (one connection, in a thread) ---------------- */

struct th_fake;
typedef void (*th_fake_fn)(struct th_fake *f, int fd);

struct th_fake {
    char dir[64];
    char path[100]; /* the UNIX socket to connect to */
    int lfd;
    th_fake_fn fn;  /* runs with the accepted connection; closed after it */
    void *ctx;
    pthread_t th;
    uint8_t got[8192]; /* what the script chose to record */
    size_t ngot;
    int ok;            /* set by the script when its expectations held */
    char name[256];    /* the name the client registered (th_fake_handshake) */
};

/* Listens on a fresh socket and starts the thread (accept bounded by 5 s,
 * scaled). Returns 0 or -1. */
int th_fake_start(struct th_fake *f, th_fake_fn fn, void *ctx);
/* Joins the thread and removes the socket. Scripts bound all their waits. */
void th_fake_join(struct th_fake *f);
/* Bounded exact read (0 or -1) and full write (0 or -1). */
int th_fake_read(int fd, void *buf, size_t n, int timeout_ms);
int th_fake_write(int fd, const void *buf, size_t n);
/* The broker side of a successful handshake; records every byte the client
 * sent in f->got. Returns 0 or -1. */
int th_fake_handshake(struct th_fake *f, int fd);
/* Waits until the peer closes (or timeout). Returns 0 on EOF, -1 else. */
int th_fake_wait_eof(int fd, int timeout_ms);

#endif
