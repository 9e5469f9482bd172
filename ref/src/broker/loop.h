/* The event loop (loop.c). */
#ifndef BUSRTD_LOOP_H
#define BUSRTD_LOOP_H

#include <signal.h>
#include <stdatomic.h>

struct broker;

/* Runs until *stop becomes non-zero (set by a signal handler, or by
 * another thread that then signals broker.wake_fd); signals are delivered
 * only while waiting, with waitmask (NULL: the thread's mask). A non-zero
 * *reload reloads the access control file at the next turn. Embedded
 * (broker.hub set), the caller holds the hub's lock, which the loop gives
 * up only while it waits. */
void broker_run(struct broker *b, const sigset_t *waitmask, const atomic_int *stop,
                atomic_int *reload);
/* Announces shutdown and gives queued output up to one timeout to leave. */
void broker_drain(struct broker *b);

#endif
