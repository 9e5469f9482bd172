/* BUS/RT v1 frame codec: handshake, client frame header, delivered frame
 * header, ACK, and NUL splitting of bodies.
 *
 * Pure functions over caller-owned buffers: no I/O, no allocation, no global
 * state. Lengths in; a byte count (>= 0) or a negative BUSRT_ERR_* code out.
 * Every function is total: any pointer/length pair the contract allows gives
 * a defined result. ACSL contracts sit above the definitions in
 * ref/src/core/frame.c. */
#ifndef BUSRT_FRAME_H
#define BUSRT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "busrt/codes.h"

/* A byte range [off, off + len) inside a buffer the caller owns. */
struct busrt_span {
    size_t off;
    size_t len;
};

/* Client -> broker frame header (9 bytes on the wire). */
struct busrt_client_header {
    uint32_t op_id;    /* bytes 0-3, echoed in the ACK */
    uint8_t op;        /* flags % 64 */
    uint8_t qos;       /* flags / 64 */
    uint32_t body_len; /* bytes 5-8 */
};

/* Broker -> client delivered frame header (6 bytes on the wire). */
struct busrt_frame_header {
    uint8_t kind;      /* BUSRT_KIND_* */
    uint32_t body_len; /* bytes 1-4 */
    uint8_t realtime;  /* byte 5 as received: 1 realtime, 0 not */
};

/* Broker -> client ACK (6 bytes on the wire). */
struct busrt_ack {
    uint32_t op_id;
    uint8_t code; /* BUSRT_RC_* */
};

/* Fields of a client frame body, as spans into the body. Absent fields are
 * empty spans at offset len. */
struct busrt_client_body {
    struct busrt_span target;   /* topic, target name, mask, or topic list */
    struct busrt_span receiver; /* publish-for only */
    struct busrt_span payload;
};

/* Fields of a delivered frame body, as spans into the body. */
struct busrt_frame_body {
    struct busrt_span sender;
    struct busrt_span topic; /* publications only */
    struct busrt_span payload;
};

/* ---- Handshake -------------------------------------------------------- */

/* Writes EB 01 00. Returns 3, or BUSRT_ERR_SPACE when cap < 3. */
int busrt_greeting_encode(uint8_t *out, size_t cap);

/* Checks a greeting (either direction). Returns 3 when buf starts with
 * EB 01 00; BUSRT_ERR_SHORT when len < 3; BUSRT_ERR_GREETING when byte 0 is
 * not EB; BUSRT_ERR_VERSION when bytes 1-2 are not the u16 1. */
int busrt_greeting_decode(const uint8_t *buf, size_t len);

/* Writes the u16 name length that precedes a client name. Returns 2;
 * BUSRT_ERR_LIMIT when name_len > 65535; BUSRT_ERR_SPACE when cap < 2. */
int busrt_name_len_encode(size_t name_len, uint8_t *out, size_t cap);

/* Reads the u16 name length. Returns 2, or BUSRT_ERR_SHORT when len < 2. */
int busrt_name_len_decode(const uint8_t *buf, size_t len, uint16_t *name_len);

/* Validates a client name for registration. Returns 0 when acceptable;
 * BUSRT_ERR_NAME when empty or starting with '.'; BUSRT_ERR_UTF8 when not
 * well-formed UTF-8. */
int busrt_name_check(const uint8_t *name, size_t len);

/* Length of the primary part of a client name: the offset of the first
 * "%%", or len when the name is itself a primary. */
size_t busrt_name_primary_len(const uint8_t *name, size_t len);

/* ---- Client frame header ------------------------------------------------ */

/* 1 when op is one of the nine operation codes, else 0. */
int busrt_op_valid(uint8_t op);

/* Encodes a client header. Returns 9; BUSRT_ERR_OP when h->op is not a
 * valid operation; BUSRT_ERR_ARG when h->qos > 3; BUSRT_ERR_SPACE when
 * cap < 9. */
int busrt_client_header_encode(const struct busrt_client_header *h,
                               uint8_t *out, size_t cap);

/* Decodes a client header. Returns 9; BUSRT_ERR_SHORT when len < 9;
 * BUSRT_ERR_OP when the operation is unknown; BUSRT_ERR_LIMIT when the
 * frame has a body and its length exceeds max_body. A ping (flags byte 0)
 * has no body whatever its length field says, so its length is not
 * checked. *h is written only on success. */
int busrt_client_header_decode(const uint8_t *buf, size_t len,
                               uint32_t max_body,
                               struct busrt_client_header *h);

/* Number of body bytes that follow the header: 0 for a ping (op 0 and QoS
 * 0), else h->body_len. */
uint32_t busrt_client_body_len(const struct busrt_client_header *h);

/* ---- Delivered frame header and ACK ------------------------------------- */

/* 1 when kind is one of the four delivered-frame kinds, else 0. */
int busrt_kind_valid(uint8_t kind);

/* Encodes a delivered-frame header. Returns 6; BUSRT_ERR_KIND for an
 * unknown kind; BUSRT_ERR_ARG when realtime > 1; BUSRT_ERR_SPACE when
 * cap < 6. */
int busrt_frame_header_encode(const struct busrt_frame_header *h,
                              uint8_t *out, size_t cap);

/* Decodes a delivered-frame header. Returns 6; BUSRT_ERR_SHORT when
 * len < 6; BUSRT_ERR_KIND for 0xFE (an ACK) or any unknown kind;
 * BUSRT_ERR_LIMIT when a non-NOP frame's length exceeds max_body. */
int busrt_frame_header_decode(const uint8_t *buf, size_t len,
                              uint32_t max_body,
                              struct busrt_frame_header *h);

/* Encodes an ACK. Returns 6, or BUSRT_ERR_SPACE when cap < 6. */
int busrt_ack_encode(const struct busrt_ack *a, uint8_t *out, size_t cap);

/* Decodes an ACK. Returns 6; BUSRT_ERR_SHORT when len < 6;
 * BUSRT_ERR_MARKER when byte 0 is not 0xFE. */
int busrt_ack_decode(const uint8_t *buf, size_t len, struct busrt_ack *a);

/* ---- Bodies ------------------------------------------------------------- */

/* Offset of the first NUL in buf[from, len), or len when there is none
 * (from <= len). */
size_t busrt_nul_find(const uint8_t *buf, size_t len, size_t from);

/* Splits a client frame body by operation:
 *   publish, message, broadcast, op 0 with QoS: target NUL payload
 *   publish-for: target NUL receiver NUL payload
 *   subscribe, unsubscribe, exclude, unexclude: target = the whole body
 * Returns 0; BUSRT_ERR_NOSEP when a required NUL is missing; BUSRT_ERR_OP
 * for an unknown operation. *b is written only on success. */
int busrt_client_body_split(uint8_t op, const uint8_t *body, size_t len,
                            struct busrt_client_body *b);

/* Splits a delivered frame body by kind:
 *   message, broadcast: sender NUL payload
 *   publication: sender NUL topic NUL payload
 * Returns 0; BUSRT_ERR_NOSEP; BUSRT_ERR_KIND for NOP or unknown kinds. */
int busrt_frame_body_split(uint8_t kind, const uint8_t *body, size_t len,
                           struct busrt_frame_body *b);

/* Iterates over a NUL-joined list. Start with *pos = 0; each call that
 * returns 1 stores the next item in *item. A list of n NULs has n + 1
 * items (an empty body is one empty item). Returns 0 when the list is
 * exhausted. Requires len < SIZE_MAX. */
int busrt_list_next(const uint8_t *buf, size_t len, size_t *pos,
                    struct busrt_span *item);

#endif
