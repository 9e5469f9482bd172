/* libbusrtd: the BUS/RT broker as a library (the busrtd program is a thin
 * main around it).
 *
 * An application embeds a broker, lets its own threads talk to it as
 * in-process clients (busrtd_connect: a busrt_client of busrt/client.h
 * and busrt/rpc.h, used unchanged), and serves other processes over the
 * UNIX and TCP listeners of its options.
 *
 * ---- Threads -----------------------------------------------------------------
 * A broker's code runs under one lock per broker. The thread running
 * busrtd_run() (the caller's, or one of its own with busrtd_spawn())
 * holds it except while it waits for sockets and deadlines. An
 * in-process client's thread takes it for as long as it takes to hand
 * over a frame (which is then checked, routed and queued at once, in that
 * thread) or to copy its queued frames: no other thread is involved in
 * an exchange between two in-process clients, and the receiver is woken
 * with one eventfd signal. Each busrt_client is used by one thread at a
 * time, as over a socket. Every function here may be called from any
 * thread; busrtd_stop() also from a signal handler. Nothing is global:
 * two brokers in one process share nothing (each has its own memory
 * budget, arena, log settings and lock).
 *
 * ---- Same rules as a socket --------------------------------------------------
 * In-process clients go through the same handshake, name rules, ACKs and
 * QoS, limits (--max-clients counts them, --queue-size, payload limit),
 * deadlines (-t: a silent client is dropped, a client that takes nothing
 * from its queue for -t is dropped), access control (they present the
 * process's user and group, as a UNIX socket from it would) and .broker
 * announcements; client.list shows them with type "internal". Realtime
 * QoS needs no flushing: a frame is readable as soon as it is queued.
 *
 * ---- Return values -----------------------------------------------------------
 * 0 or a negative BUSRT_E_* code (busrt/client.h): BUSRT_E_INVAL for a bad
 * argument or option or a call in the wrong state, BUSRT_E_NOMEM,
 * BUSRT_E_SYS (errno kept). What went wrong is also logged, as busrtd
 * logs (standard error, or syslog with --log-syslog). */
#ifndef BUSRT_BUSRTD_H
#define BUSRT_BUSRTD_H

#include <stddef.h>
#include <stdint.h>

#include "busrt/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct busrtd busrtd;

/* Creates a broker from busrtd's command-line options (argv[0] is a name
 * for log lines; see busrtd(8)). -B listeners are optional (in-process
 * clients only) and are opened by busrtd_start(); -D and -P are refused
 * (the process is the application's). The realtime options apply to the
 * thread that runs the loop. The broker does not notify a service
 * manager (the application does). The strings are copied. A bad option prints one line on standard error and
 * gives BUSRT_E_INVAL (also --help and --version, which print their
 * text). */
int busrtd_create(busrtd **out, int argc, const char *const *argv);
/* Adds a listener (as -B ADDR) before busrtd_start(). */
int busrtd_listen(busrtd *d, const char *addr);
/* Opens every listener; sockets accept connections from here on.
 * In-process clients may connect as soon as the broker is created. */
int busrtd_start(busrtd *d);
/* Runs the broker in the calling thread until busrtd_stop(); then
 * announces the shutdown, gives queued output up to one timeout to leave,
 * and closes every connection. Calls busrtd_start() first if needed. */
int busrtd_run(busrtd *d);
/* busrtd_run() on a new thread. */
int busrtd_spawn(busrtd *d);
/* Asks busrtd_run() to return; async-signal-safe. */
void busrtd_stop(busrtd *d);
/* Waits for the thread of busrtd_spawn() to end. */
int busrtd_join(busrtd *d);
/* Stops and joins if needed, closes every client and listener, removes
 * socket and pid files, and frees d. In-process clients still open get
 * BUSRT_E_CLOSED; they must still be closed with busrt_client_close(). */
void busrtd_destroy(busrtd *d);

/* Connects an in-process client (cfg as for busrt_client_connect(); its
 * connect timeout bounds the handshake). Returns 0 or BUSRT_E_*: as
 * busrt_client_connect() for the handshake, BUSRT_E_BUSY with
 * --max-clients or --max-handshakes reached, BUSRT_E_CLOSED when the
 * broker is stopping. */
int busrtd_connect(busrtd *d, busrt_client **out, const struct busrt_client_config *cfg);

struct busrtd_stats {
    uint64_t clients;   /* connected (socket and in-process), not .broker */
    uint64_t r_frames, r_bytes, w_frames, w_bytes; /* as in .broker stats */
    uint64_t memory_used, memory_high_water, memory_limit; /* bytes */
    uint64_t uptime_ms;
};
/* A consistent snapshot of the broker's counters. */
int busrtd_stats(busrtd *d, struct busrtd_stats *st);

#ifdef __cplusplus
}
#endif

#endif
