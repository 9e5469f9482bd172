/* In-process connections of an embedded broker (inproc.c): a libbusrt
 * client on another thread of the same process talks to the broker
 * through a link instead of a socket (busrt/transport.h), with the same
 * handshake, frames, limits and deadlines.
 *
 * Threads. The broker's code runs under one lock, the hub's: the loop
 * holds it except while it waits on the multiplexer, and a client's
 * thread takes it to hand over its bytes or to take its queue. */
#ifndef BUSRTD_INPROC_H
#define BUSRTD_INPROC_H

#include <stddef.h>

#include "busrt/transport.h"

struct broker;
struct inproc_link;
struct mem_ctx;
struct log_cfg;

/* The lock and the broker's memory and log settings, shared with every
 * link, so that it outlives the broker while clients are still open. */
struct inproc_hub;

/* A hub for b (its lock taken by nobody yet). NULL when out of memory. */
struct inproc_hub *inproc_hub_new(struct broker *b, struct mem_ctx *mem, struct log_cfg *log);
/* The broker is gone (the caller entered the hub and tore it down):
 * links still open get BUSRT_E_CLOSED. Drops the broker's reference and
 * leaves. */
void inproc_hub_close(struct inproc_hub *h);

/* The calling thread takes the broker's lock and selects its memory and
 * log settings; the broker is then its to use. Returns the broker, or
 * NULL (lock still taken) once the broker is gone. */
struct broker *inproc_enter(struct inproc_hub *h);
/* Gives the lock back, waking the loop when what was done needs it (a
 * deadline earlier than its wait, descriptors to watch, clients to free,
 * output for socket clients). */
void inproc_leave(struct inproc_hub *h);

/* The loop: gives the lock up for its wait (which ends at wake_at, the
 * broker's field), and takes it back. */
void inproc_loop_release(struct inproc_hub *h);
void inproc_loop_acquire(struct inproc_hub *h);

/* The eventfd wake-ups: one signal (retried on EINTR), and clearing the
 * counter (the descriptor is non-blocking). */
void inproc_fd_signal(int fd);
void inproc_fd_drain(int fd);

/* A new in-process client of the broker; *fd is the descriptor to wait
 * on. Returns the link, or NULL with *err a BUSRT_E_* code (the client
 * limit: BUSRT_E_BUSY with no room for clients; BUSRT_E_NOMEM; BUSRT_E_CLOSED
 * once the broker is stopping or gone). */
struct inproc_link *inproc_connect(struct inproc_hub *h, int *fd, int *err);
/* The transport functions of a link (ctx: the link). */
extern const struct busrt_transport inproc_transport;

/* Broker side, under the lock: output is queued or the connection
 * ended; wakes the client's thread if it waits. */
void inproc_wake(struct inproc_link *l);
/* The broker frees the connection's client: the link no longer has one. */
void inproc_detach(struct inproc_link *l);

#endif
