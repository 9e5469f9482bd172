/* The internal client ".broker" (coreapi.c): its RPC methods and the
 * announcements it publishes. */
#ifndef BUSRTD_COREAPI_H
#define BUSRTD_COREAPI_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct client;

/* The topic of the broker's warnings (shutdown); every client is
 * subscribed to it at registration. */
#define COREAPI_WARN_TOPIC ".broker/warn"
#define COREAPI_WARN_TOPIC_LEN (sizeof COREAPI_WARN_TOPIC - 1u)

/* Answers an RPC call from `from` to .broker. */
void coreapi_handle(struct broker *b, struct client *from, const uint8_t *payload,
                    size_t len);
/* Queues a reg (registered) or unreg announcement of c on .broker/info. */
void coreapi_announce(struct broker *b, const struct client *c, int registered);
/* Publishes queued reg/unreg announcements; called between frames. */
void coreapi_flush_events(struct broker *b);
/* Publishes the shutdown warning on COREAPI_WARN_TOPIC. */
void coreapi_shutdown(struct broker *b);

#endif
