/* The --memory-limit policy: making room by dropping slow consumers, and
 * rate-limited reports (budget.h). */
#include "budget.h"

#include <stdarg.h>
#include <stdio.h>

#include "broker.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "outq.h"

/* Drops the queue of a client already disconnected that lingers to write
 * it out (refusal codes, earlier replies) when that queue is over share.
 * Returns 1 when there was one. */
static int reclaim_lingering(struct broker *b, size_t share)
{
    for (struct client *c = b->dead; c != NULL; c = c->next_dead) {
        if (c->linger && c->q.bytes > share) {
            log_debug("client %s: memory limit reached; discarding the %zu frames (%zu "
                      "bytes) still to be written to it",
                      client_label(c), c->q.count, c->q.bytes);
            outq_free(&c->q);
            c->linger = 0; /* broker_reap frees it */
            return 1;
        }
    }
    return 0;
}

int budget_reclaim(struct broker *b)
{
    size_t limit = mem_limit();
    if (limit == 0u) {
        return 0;
    }
    size_t share = limit / (b->nconns > 0u ? b->nconns : 1u);
    if (reclaim_lingering(b, share)) {
        return 1;
    }
    if (b->reclaim_fruitless_at == b->now) {
        return 0; /* one walk of the clients per loop turn at most */
    }
    /* Of the clients over their share whose socket has taken nothing for
     * BUDGET_STALL_DIV-th of the timeout, the one stalled for the longest: a
     * client that reads promptly is stalled for moments only. */
    int64_t since = b->now - b->cfg.timeout_ns / BUDGET_STALL_DIV;
    struct client *v = NULL;
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (!c->dead && CLIENT_HAS_PEER(c) && c->write_stalled_since != 0 &&
            c->write_stalled_since <= since && c->q.bytes > share &&
            (v == NULL || c->write_stalled_since < v->write_stalled_since)) {
            v = c;
        }
    }
    if (v == NULL) {
        b->reclaim_fruitless_at = b->now;
        return 0;
    }
    size_t before = mem_used();
    log_warn("client %s: memory limit: its output queue of %zu bytes (%zu frames) is over "
             "its share of %zu bytes (--memory-limit %zu, %zu clients) and it has not read "
             "for %.3f s; dropping it to make room (%zu bytes in use)",
             client_label(v), v->q.bytes, v->q.count, share, limit, b->nconns,
             (double)(b->now - v->write_stalled_since) / 1e9, before);
    outq_free(&v->q); /* first, so that what client_kill announces has room */
    v->linger = 0;
    client_kill(b, v, "output queue over its memory share");
    log_debug("memory limit: %zu bytes freed by dropping %s", before - mem_used(),
              client_label(v));
    return 1;
}

void *budget_alloc(struct broker *b, size_t n)
{
    void *p;
    while ((p = mem_alloc(n)) == NULL && budget_reclaim(b)) {
    }
    return p;
}

int budget_admit(struct broker *b, size_t n, int reserve)
{
    size_t limit = mem_limit();
    if (limit == 0u) {
        return 1;
    }
    size_t room = reserve ? limit - limit / 4u : limit;
    do {
        if (n <= room && mem_used() <= room - n) {
            return 1;
        }
    } while (budget_reclaim(b));
    return 0;
}

static void note_line(struct broker *b, struct budget_note *note, const char *prefix,
                      const char *fmt, va_list ap)
{
    if (note->last != 0 && b->now - note->last < 1000000000LL) {
        note->left_out++;
        return;
    }
    char text[512];
    (void)vsnprintf(text, sizeof text, fmt, ap);
    if (note->left_out > 0u) {
        log_warn("%s%s (%lu more like this since the last such line)", prefix, text,
                 note->left_out);
    } else {
        log_warn("%s%s", prefix, text);
    }
    note->last = b->now;
    note->left_out = 0;
}

void budget_warn(struct broker *b, struct budget_note *note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_line(b, note, "memory limit: ", fmt, ap);
    va_end(ap);
}

void budget_oom(struct broker *b, struct budget_note *note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (mem_limit() != 0u) {
        note_line(b, note, "memory limit reached ", fmt, ap);
    } else {
        char text[512];
        (void)vsnprintf(text, sizeof text, fmt, ap);
        log_error("out of memory %s", text);
    }
    va_end(ap);
}
