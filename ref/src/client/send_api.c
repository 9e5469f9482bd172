/* libbusrt: the public send functions (messages, broadcasts,
 * publications, subscriptions and exclusions, pings), all through
 * bc_send. */
#include "client_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One frame to t1 (and t2 when given) whose payload is iov[0..iovcnt). */
static int send_v(busrt_client *c, uint8_t op, const char *t1, const char *t2,
                  const struct iovec *iov, int iovcnt, unsigned qos, uint32_t *op_id)
{
    if (t1 == NULL) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, op, qos, t1, t2, NULL, 0, iov, iovcnt, op_id);
}

/* send_v with one contiguous payload. */
static int send_one(busrt_client *c, uint8_t op, const char *t1, const char *t2,
                    const void *payload, size_t len, unsigned qos, uint32_t *op_id)
{
    if (len > 0 && payload == NULL) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)payload;
    v.iov_len = len;
    return send_v(c, op, t1, t2, &v, len > 0 ? 1 : 0, qos, op_id);
}

int busrt_send(busrt_client *c, const char *target, const void *payload, size_t len,
               unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_MESSAGE, target, NULL, payload, len, qos, op_id);
}

int busrt_sendv(busrt_client *c, const char *target, const struct iovec *iov, int iovcnt,
                unsigned qos, uint32_t *op_id)
{
    return send_v(c, BUSRT_OP_MESSAGE, target, NULL, iov, iovcnt, qos, op_id);
}

int busrt_broadcast(busrt_client *c, const char *mask, const void *payload, size_t len,
                    unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_BROADCAST, mask, NULL, payload, len, qos, op_id);
}

int busrt_broadcastv(busrt_client *c, const char *mask, const struct iovec *iov, int iovcnt,
                     unsigned qos, uint32_t *op_id)
{
    return send_v(c, BUSRT_OP_BROADCAST, mask, NULL, iov, iovcnt, qos, op_id);
}

int busrt_publish(busrt_client *c, const char *topic, const void *payload, size_t len,
                  unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_PUBLISH, topic, NULL, payload, len, qos, op_id);
}

int busrt_publishv(busrt_client *c, const char *topic, const struct iovec *iov, int iovcnt,
                   unsigned qos, uint32_t *op_id)
{
    return send_v(c, BUSRT_OP_PUBLISH, topic, NULL, iov, iovcnt, qos, op_id);
}

int busrt_publish_for(busrt_client *c, const char *topic, const char *receiver,
                      const void *payload, size_t len, unsigned qos, uint32_t *op_id)
{
    if (receiver == NULL) {
        return BUSRT_E_INVAL;
    }
    return send_one(c, BUSRT_OP_PUBLISH_FOR, topic, receiver, payload, len, qos, op_id);
}

int busrt_publish_forv(busrt_client *c, const char *topic, const char *receiver,
                       const struct iovec *iov, int iovcnt, unsigned qos, uint32_t *op_id)
{
    if (receiver == NULL) {
        return BUSRT_E_INVAL;
    }
    return send_v(c, BUSRT_OP_PUBLISH_FOR, topic, receiver, iov, iovcnt, qos, op_id);
}

/* Topics joined by NUL, no trailing NUL, each piece its own iovec. */
static int topics_op(busrt_client *c, uint8_t op, const char *const *topics, size_t n,
                     unsigned qos, uint32_t *op_id)
{
    if (topics == NULL || n == 0 || n > (size_t)(INT_MAX / 2 - 8)) {
        return BUSRT_E_INVAL;
    }
    struct iovec local[32];
    size_t cnt = 2u * n - 1u;
    struct iovec *v = cnt <= 32u ? local : malloc(cnt * sizeof *v);
    if (v == NULL) {
        return BUSRT_E_NOMEM;
    }
    size_t k = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (topics[i] == NULL) {
            r = BUSRT_E_INVAL;
            break;
        }
        if (i > 0) {
            v[k].iov_base = (void *)(uintptr_t)&bc_nul;
            v[k++].iov_len = 1;
        }
        v[k].iov_base = (void *)(uintptr_t)topics[i];
        v[k++].iov_len = strlen(topics[i]);
    }
    if (r == 0) {
        r = bc_send(c, op, qos, NULL, NULL, NULL, 0, v, (int)k, op_id);
    }
    if (v != local) {
        free(v);
    }
    return r;
}

int busrt_subscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_SUBSCRIBE, &topic, 1, qos, op_id);
}

int busrt_subscribe_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                         uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_SUBSCRIBE, topics, n, qos, op_id);
}

int busrt_unsubscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNSUBSCRIBE, &topic, 1, qos, op_id);
}

int busrt_unsubscribe_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                           uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNSUBSCRIBE, topics, n, qos, op_id);
}

int busrt_exclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_EXCLUDE, &topic, 1, qos, op_id);
}

int busrt_exclude_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                       uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_EXCLUDE, topics, n, qos, op_id);
}

int busrt_unexclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNEXCLUDE, &topic, 1, qos, op_id);
}

int busrt_unexclude_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                         uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNEXCLUDE, topics, n, qos, op_id);
}

int busrt_ping(busrt_client *c)
{
    if (c == NULL) {
        return BUSRT_E_INVAL;
    }
    if (c->err != 0) {
        return c->err;
    }
    return bc_ping(c);
}
