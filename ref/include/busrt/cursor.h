/* libbusrt RPC cursors: results too large for one reply, fetched in
 * pieces (the convention of the deployed busrt library; spec/busrt-v1.md,
 * "RPC cursors", informative).
 *
 * A server method answers with a cursor id map instead of the data:
 *   {"u": ID}            81 A1 75 C4 10 <16 bytes>   (ID: MessagePack bin 16,
 *                                                    as rmp-serde writes a uuid)
 * The caller then calls, on the same server:
 *   N   params {"u": ID}          -> one item per reply (one MessagePack
 *                                    object); an empty reply means "no more"
 *   NB  params {"u": ID, "n": K}  -> a MessagePack array of up to K items; an
 *                                    array shorter than K is the last block
 * An unknown, finished or expired id gets error -32001 (not found).
 *
 * Server side: a cursor table owned by the caller (no global state), used
 * from the thread that serves the client. Client side: an iterator over
 * busrt_rpc_call(). Same conventions as busrt/client.h (0 or a negative
 * BUSRT_E_* code; timeouts in ms).
 */
#ifndef BUSRT_CURSOR_H
#define BUSRT_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "busrt/client.h"
#include "busrt/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The cursor id: 16 random bytes (a version 4 uuid). */
#define BUSRT_CURSOR_ID_LEN 16u
/* The id map {"u": bin 16} that a method returns as its result. */
#define BUSRT_CURSOR_ID_MAP_LEN 21u

/* ---- Server side ------------------------------------------------------------- */

typedef struct busrt_cursor_table busrt_cursor_table;

/* A producer's answer to "next item". */
#define BUSRT_CURSOR_ITEM 0 /* data and len hold one MessagePack object */
#define BUSRT_CURSOR_END 1  /* no more items */

/* Produces the next item of a cursor: returns BUSRT_CURSOR_ITEM with *data
 * and *len set (one complete MessagePack object, not empty; memory owned by
 * the producer, valid until its next call or its free), BUSRT_CURSOR_END, or
 * an RPC error code (negative, within int16, e.g. BUSRT_RPC_E_INTERNAL):
 * the call gets that error and the cursor is dropped. */
typedef int (*busrt_cursor_next_fn)(void *ctx, const void **data, size_t *len);
/* Releases ctx when the cursor is dropped (finished, expired, failed, or
 * the table freed). May be NULL. */
typedef void (*busrt_cursor_free_fn)(void *ctx);

/* Default limits of busrt_cursor_table_new (0 selects them). */
#define BUSRT_CURSOR_DEFAULT_MAX_OPEN 64u
#define BUSRT_CURSOR_DEFAULT_MAX_BULK 10000u

/* Creates an empty table for at most max_open open cursors and NB blocks of
 * at most max_bulk items (0: the defaults above). Returns 0 with *out set,
 * BUSRT_E_INVAL (out NULL) or BUSRT_E_NOMEM. */
int busrt_cursor_table_new(unsigned max_open, uint32_t max_bulk, busrt_cursor_table **out);
/* Drops every open cursor (calling its free function) and frees t. NULL is
 * ignored. */
void busrt_cursor_table_free(busrt_cursor_table *t);
/* Number of open cursors. */
unsigned busrt_cursor_count(const busrt_cursor_table *t);

/* Opens a cursor over next(ctx) that is dropped when not used for ttl_ms
 * (> 0). Writes the id map {"u": ID} (BUSRT_CURSOR_ID_MAP_LEN bytes) to
 * id_map: return it as the method's result. Returns 0; BUSRT_E_INVAL (NULL
 * t, next or id_map, ttl_ms <= 0); BUSRT_E_LIMIT when max_open cursors are
 * open (expired ones are swept first); BUSRT_E_SYS when no random bytes
 * could be read (errno set). On failure free is not called: ctx stays the
 * caller's. */
int busrt_cursor_create(busrt_cursor_table *t, busrt_cursor_next_fn next,
                        busrt_cursor_free_fn free_fn, void *ctx, int ttl_ms,
                        uint8_t id_map[BUSRT_CURSOR_ID_MAP_LEN]);

/* 1 when ev is a call of the cursor methods N or NB, else 0. */
int busrt_cursor_is_call(const struct busrt_rpc_event *ev);

/* Answers an N or NB call inside an on_call handler: returns what the
 * handler returns (0 with *res set, or an RPC error code with a text message
 * in *res). *res points into t and stays valid until the next
 * busrt_cursor_serve() or busrt_cursor_table_free() on t.
 *   N:  one item; an empty result when the cursor is finished (it is then
 *       dropped, so a further N gets -32001).
 *   NB: an array of up to n items; shorter than n when the cursor is
 *       finished (then dropped). "n" absent means 1 (as the deployed
 *       library); n = 0 or n > max_bulk is -32602 (a request for no items
 *       could never reach the end).
 *   -32001 (BUSRT_RPC_E_NOT_FOUND): unknown, finished or expired id;
 *   -32602: params that are not a map with "u" (bin of 16 bytes) and, for
 *       NB, an optional non-negative integer "n" (other keys are ignored);
 *   -32601: a method other than N and NB;
 *   -32603: the producer gave an item that is not one MessagePack object,
 *       or memory ran out (the cursor is dropped);
 *   a producer's own error code (the cursor is dropped).
 * Each use restarts the cursor's time-to-live. */
int busrt_cursor_serve(busrt_cursor_table *t, const struct busrt_rpc_event *ev,
                       struct busrt_rpc_result *res);

/* Drops the cursors not used for their time-to-live. Call it from the
 * server loop (e.g. each time busrt_rpc_serve returns BUSRT_E_TIMEOUT).
 * Returns the number dropped. */
unsigned busrt_cursor_sweep(busrt_cursor_table *t);

/* ---- Client side ------------------------------------------------------------- */

typedef struct busrt_cursor busrt_cursor;

/* 1 when data is a MessagePack map with exactly one key, "u" (a cursor id
 * map as a server returns it), else 0. */
int busrt_cursor_is_id_map(const void *data, size_t len);

/* Starts iterating the cursor whose id map a call of target returned
 * (data/len: the reply; the id is kept as the exact bytes received). Later
 * calls use qos and timeout_ms (see busrt_rpc_call). Returns 0 with *out
 * set; BUSRT_E_INVAL (NULL arguments, qos > 3, or data not an id map);
 * BUSRT_E_NOMEM. */
int busrt_cursor_open(busrt_client *c, const char *target, const void *data, size_t len,
                      unsigned qos, int timeout_ms, busrt_cursor **out);
/* Frees the iterator (the server drops the cursor on its own). NULL is
 * ignored. */
void busrt_cursor_close(busrt_cursor *cur);

/* Calls N: returns 1 with one item in *item (valid like a busrt_rpc_call
 * reply), 0 at the end (empty reply; later calls return 0 without calling),
 * or an error of busrt_rpc_call (BUSRT_E_RPC with item->code, e.g. -32001
 * for an expired cursor). */
int busrt_cursor_next(busrt_cursor *cur, struct busrt_rpc_reply *item);

/* Calls NB for up to n (>= 1) items: returns 1 with the array in *block and
 * its item count in *count when more may follow, 0 with the last block
 * (count < n; later calls return 0 with an empty block, count 0, without
 * calling), BUSRT_E_INVAL (n = 0), BUSRT_E_PROTO when the server's answer
 * is not a MessagePack array, or an error of busrt_rpc_call. */
int busrt_cursor_next_bulk(busrt_cursor *cur, uint32_t n, struct busrt_rpc_reply *block,
                           uint32_t *count);

#ifdef __cplusplus
}
#endif

#endif
