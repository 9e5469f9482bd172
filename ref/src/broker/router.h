/* Router (router.c): one client frame in, deliveries and an ACK out; and
 * the frames the internal client sends. */
#ifndef BUSRTD_ROUTER_H
#define BUSRTD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct client;
struct outbuf;

/* Handles one frame of c (header in c->hdr, body of len bytes). */
void router_dispatch(struct broker *b, struct client *c, const uint8_t *body, size_t len);
/* Frames from the internal client (announcements, FIFO, shutdown). */
void router_publish_internal(struct broker *b, const uint8_t *topic, size_t tlen,
                             const uint8_t *payload, size_t len);
void router_broadcast_internal(struct broker *b, const uint8_t *mask, size_t mlen,
                               const uint8_t *payload, size_t len);
void router_message_internal(struct broker *b, const uint8_t *target, size_t tlen,
                             const uint8_t *payload, size_t len);
/* Queues frame f on c; drops c (logged) when its queue is full. Returns 0
 * when queued, -1 when c was dropped, CLIENT_Q_NOMEM (conn.h) when there
 * was no memory for it (c stays). */
int router_deliver(struct broker *b, struct client *c, struct outbuf *f);
/* Queues an ACK with code for c's current frame (c->hdr); drops c when
 * not even that can be queued (REQ-ERR-7). */
void router_ack(struct broker *b, struct client *c, uint8_t code);
/* Builds a delivered frame of the given kind from `from` (topic only for a
 * publication), making room under --memory-limit first if needed; NULL
 * when out of memory or too large. */
struct outbuf *router_build(struct broker *b, uint8_t kind, int realtime,
                            const struct client *from, const uint8_t *topic, size_t topic_len,
                            const uint8_t *payload, size_t payload_len);

#endif
