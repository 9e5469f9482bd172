/* The broker's clocks (clock.c). */
#ifndef BUSRTD_CLOCK_H
#define BUSRTD_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds: deadlines, the loop's time, uptime. */
int64_t now_ns(void);
/* Wall-clock nanoseconds since the Unix epoch: announcement timestamps. */
uint64_t wall_ns(void);

#endif
