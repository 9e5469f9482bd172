/* What the broker does when --memory-limit is reached (budget.c); the
 * policy is written down in spec/busrt-v1.md, Section 16.5.
 *
 * Memory is made room for only at points where dropping a client is safe
 * (loop.c's rules): before a frame is built or queued, before a body or a
 * name is collected, before a pattern is stored, before a connection gets
 * its client. Never from inside an index or map being changed. */
#ifndef BUSRTD_BUDGET_H
#define BUSRTD_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct broker;

/* A client whose socket has taken nothing for timeout / BUDGET_STALL_DIV
 * (250 ms with the default 5 s) is not reading promptly. */
#define BUDGET_STALL_DIV 20

/* Frees memory held for others by dropping one of them. Candidates are
 * the clients whose output queue is over their share of the budget
 * (limit / connected clients): first one already disconnected whose queue
 * is still being written out; else, of the socket clients whose socket
 * has taken nothing (a write returned EAGAIN and none has progressed
 * since) for timeout / BUDGET_STALL_DIV, the one stalled for the longest. The dropped client's queue is released
 * at once. Returns 1 when it freed something, 0 when there is nobody to
 * drop (or no limit). */
int budget_reclaim(struct broker *b);

/* mem_alloc, dropping clients as budget_reclaim does until n bytes fit;
 * NULL when they cannot. */
void *budget_alloc(struct broker *b, size_t n);

/* 1 when n more bytes (as mem_charge counts them) fit in the budget,
 * after dropping clients as budget_reclaim does if needed. With reserve,
 * a quarter of the budget must stay free after them: large bodies do not
 * take the room small frames need. */
int budget_admit(struct broker *b, size_t n, int reserve);

/* One kind of condition logged at most once a second, with the count of
 * the lines left out in between. */
struct budget_note {
    int64_t last;
    unsigned long left_out;
};

/* A WARN line "memory limit: <text>", rate-limited per note. */
void budget_warn(struct broker *b, struct budget_note *note, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* An allocation failed: with a limit, a rate-limited WARN "memory limit
 * reached <text>"; without one, an ERROR "out of memory <text>". */
void budget_oom(struct broker *b, struct budget_note *note, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
