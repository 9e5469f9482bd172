/* libbusrt RPC cursors, client side: an iterator that calls N or NB with
 * the cursor id sent back exactly as received; see busrt/cursor.h. */
#define _DEFAULT_SOURCE
#include "busrt/cursor.h"

#include <stdlib.h>
#include <string.h>

#include "busrt/codes.h"
#include "cursor_int.h"

struct busrt_cursor {
    busrt_client *c;
    char *target;
    unsigned qos;
    int timeout_ms;
    int done;
    /* The params: 81|82, A1 'u', the id object, then (NB) A1 'n' and the
     * count; N sends the first 3 + id_len bytes. */
    uint8_t *params;
    size_t id_len;
};

/* "n" key plus the longest unsigned integer. */
#define N_ROOM 11u

int busrt_cursor_is_id_map(const void *data, size_t len)
{
    struct cm_map m;
    return bc_cm_scan(data, len, &m) == 0 && m.nkeys == 1u && m.u != NULL;
}

int busrt_cursor_open(busrt_client *c, const char *target, const void *data, size_t len,
                      unsigned qos, int timeout_ms, busrt_cursor **out)
{
    struct cm_map m;
    if (out == NULL) {
        return BUSRT_E_INVAL;
    }
    *out = NULL;
    if (c == NULL || target == NULL || qos > 3u || bc_cm_scan(data, len, &m) != 0 ||
        m.nkeys != 1u || m.u == NULL) {
        return BUSRT_E_INVAL;
    }
    busrt_cursor *cur = calloc(1, sizeof *cur);
    if (cur == NULL) {
        return BUSRT_E_NOMEM;
    }
    size_t tl = strlen(target);
    cur->target = malloc(tl + 1u);
    cur->params = malloc(3u + m.u_len + N_ROOM);
    if (cur->target == NULL || cur->params == NULL) {
        busrt_cursor_close(cur);
        return BUSRT_E_NOMEM;
    }
    memcpy(cur->target, target, tl + 1u);
    cur->params[1] = 0xA1u;
    cur->params[2] = (uint8_t)'u';
    memcpy(cur->params + 3, m.u, m.u_len);
    cur->id_len = m.u_len;
    cur->c = c;
    cur->qos = qos;
    cur->timeout_ms = timeout_ms;
    *out = cur;
    return 0;
}

void busrt_cursor_close(busrt_cursor *cur)
{
    if (cur != NULL) {
        free(cur->target);
        free(cur->params);
        free(cur);
    }
}

int busrt_cursor_next(busrt_cursor *cur, struct busrt_rpc_reply *item)
{
    if (cur == NULL || item == NULL) {
        return BUSRT_E_INVAL;
    }
    item->code = 0;
    item->data = (const uint8_t *)"";
    item->len = 0;
    if (cur->done) {
        return 0;
    }
    cur->params[0] = 0x81u;
    int r = busrt_rpc_call(cur->c, cur->target, "N", cur->params, 3u + cur->id_len, cur->qos,
                           cur->timeout_ms, item);
    if (r != 0) {
        return r;
    }
    if (item->len == 0u) {
        cur->done = 1;
        return 0;
    }
    return 1;
}

int busrt_cursor_next_bulk(busrt_cursor *cur, uint32_t n, struct busrt_rpc_reply *block,
                           uint32_t *count)
{
    if (cur == NULL || block == NULL || count == NULL || n == 0u) {
        return BUSRT_E_INVAL;
    }
    static const uint8_t empty[1] = {0x90u};
    block->code = 0;
    block->data = empty;
    block->len = sizeof empty;
    *count = 0;
    if (cur->done) {
        return 0;
    }
    cur->params[0] = 0x82u;
    uint8_t *p = cur->params + 3u + cur->id_len;
    p[0] = 0xA1u;
    p[1] = (uint8_t)'n';
    size_t nl = bc_cm_put_uint(n, p + 2);
    int r = busrt_rpc_call(cur->c, cur->target, "NB", cur->params, 5u + cur->id_len + nl,
                           cur->qos, cur->timeout_ms, block);
    if (r != 0) {
        return r;
    }
    if (bc_cm_array_count(block->data, block->len, count) != 0) {
        *count = 0;
        return BUSRT_E_PROTO;
    }
    if (*count < n) {
        cur->done = 1;
        return 0;
    }
    return 1;
}
