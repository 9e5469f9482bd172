/* Deadlines: a binary min-heap of timer nodes embedded in their owners
 * (each client has one: its earliest read, write, linger or keep-alive
 * deadline). The loop looks at the earliest only, so a turn costs
 * O(expired x log n), never a scan of every client. */
#ifndef BUSRTD_TIMER_H
#define BUSRTD_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct timer {
    int64_t at; /* monotonic ns */
    size_t pos; /* index in the heap + 1; 0 when not in it */
};

struct timers {
    struct timer **v;
    size_t n, cap;
};

/* Makes room for one more node, so that the next timers_set of a node not
 * in the heap cannot fail. Returns 0, or -1 when out of memory. */
int timers_reserve(struct timers *h);
/* Puts t in the heap at time at, or moves it there when already in. The
 * caller has reserved room for a new node. */
void timers_set(struct timers *h, struct timer *t, int64_t at);
/* Lowers t's time to at when at is earlier (inserts t when not in). */
void timers_lower(struct timers *h, struct timer *t, int64_t at);
void timers_remove(struct timers *h, struct timer *t);
/* The earliest node, or NULL. */
struct timer *timers_first(const struct timers *h);
void timers_free(struct timers *h);

#endif
