/* The event loop (loop.c). */
#ifndef BUSRTD_LOOP_H
#define BUSRTD_LOOP_H

#include <signal.h>

struct broker;

/* Runs until *stop becomes non-zero; signals are delivered only while
 * waiting, with waitmask. A non-zero *reload reloads the access control
 * file at the next turn. */
void broker_run(struct broker *b, const sigset_t *waitmask,
                const volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);
/* Announces shutdown and gives queued output up to one timeout to leave. */
void broker_drain(struct broker *b);

#endif
