/* One client connection (conn.c): its life from accept to close, the
 * handshake and frame-reading state machine, and writing its queue. */
#ifndef BUSRTD_CONN_H
#define BUSRTD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* A new client on fd (-1: internal or socket-less), or NULL when out of
 * memory. A socket client is watched for reading and has a deadline. */
struct client *client_new(struct broker *b, int fd, enum client_kind kind);
/* Takes c out of routing at once (unregistering it and its secondaries)
 * and puts it on the dead list; broker_reap frees it in a later turn. */
void client_kill(struct broker *b, struct client *c, const char *why);
/* client_kill, but what is already queued for c (a refusal code, replies
 * to earlier frames) is still written, for at most one timeout. */
void client_close(struct broker *b, struct client *c, const char *why);
/* Queues the broker's greeting; the handshake then runs in the loop. */
int client_start(struct broker *b, struct client *c);
/* Unlinks, closes and frees c (only broker_reap and teardown call it). */
void client_destroy(struct broker *b, struct client *c);
/* Reads what the socket has and processes it. Returns 0, or -1 when c was
 * killed. */
int client_on_readable(struct broker *b, struct client *c);
/* Processes bytes as if read from c's socket (fuzzing, tests). */
void client_feed(struct broker *b, struct client *c, const uint8_t *p, size_t n);
/* Writes the queue of every client on the flush list, in its order (the
 * clients that got frames since their last write: deliveries before the
 * ACKs that follow them). */
void client_flush_list(struct broker *b);
/* Copies up to cap bytes of c's queue into buf (an in-process client's
 * read) and counts them written. Returns the count. */
size_t client_take(struct broker *b, struct client *c, uint8_t *buf, size_t cap);
/* Writes c's queue until it is empty or the socket would block. */
void client_flush(struct broker *b, struct client *c);
/* Tells the multiplexer what c waits for: reading while alive, writing
 * while its queue waits for the socket (a write returned EAGAIN); a queue
 * is otherwise written from the loop's flush list without asking. */
void client_watch(struct broker *b, struct client *c);
/* c's deadline (timer) came: drops it on a read, write or linger timeout,
 * sends the keep-alive NOP when due, and sets the timer to the next one. */
void client_on_timer(struct broker *b, struct client *c);
/* c's name for log lines (shortened when long). */
const char *client_label(const struct client *c);
/* Queues a shared frame on c, making room under --memory-limit first if
 * needed (budget.h). Returns 0 (also for a dead or internal c: nothing is
 * queued), or one of CLIENT_Q_*: the caller decides (the router drops c
 * when its queue is full). */
int client_enqueue(struct broker *b, struct client *c, struct outbuf *f);
#define CLIENT_Q_FULL (-1)    /* --queue-size or --queue-bytes reached */
#define CLIENT_Q_NOMEM (-2)   /* no memory for the queue to grow */
#define CLIENT_Q_DROPPED (-3) /* c was dropped to make room (budget_reclaim) */

#endif
