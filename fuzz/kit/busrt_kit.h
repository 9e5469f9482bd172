/* BUS/RT v1 differential fuzzing kit: the functions a third-party
 * implementation provides, to be fuzzed against the reference core.
 *
 * Write these functions as thin adapters around your own parser and
 * matchers (any language that can export C functions will do), compile them
 * together with fuzz/kit/kit_diff.c and the reference core
 * (the .c files of ref/src/core and ref/src/common/errstr.c), and run the result under
 * libFuzzer or AFL++ (fuzz/README.md, section "Third-party kit"). The
 * harness feeds the same bytes to both sides and aborts, printing both
 * results, at the first difference.
 *
 * Every rule below is the one of spec/busrt-v1.md; the section is named.
 * All integers on the wire are little-endian. Inputs are never NULL, but
 * len may be 0; read only buf[0 .. len-1]. Return values: a byte count or
 * a boolean on success, one of the negative KIT_ERR_* codes on failure.
 * When a function fails, its output parameters are not compared. When
 * several failures apply, return the first in the order each function
 * lists. */
#ifndef BUSRT_KIT_H
#define BUSRT_KIT_H

#include <stddef.h>
#include <stdint.h>

/* Failure codes (equal to the reference core's BUSRT_ERR_* values). */
#define KIT_ERR_SHORT (-1)   /* fewer bytes than the fixed header needs */
#define KIT_ERR_OP (-4)      /* unknown operation code */
#define KIT_ERR_LIMIT (-5)   /* body length above the limit */
#define KIT_ERR_NOSEP (-6)   /* a required NUL separator is missing */
#define KIT_ERR_MARKER (-9)  /* an ACK that does not start with 0xFE */
#define KIT_ERR_KIND (-10)   /* not a delivered-frame kind */

/* A field of a body: bytes [off, off + len) of the buffer. */
struct kit_span {
    size_t off;
    size_t len;
};

/* Which of the functions below the implementation provides: an OR of
 * KIT_F_* bits. The harness calls only those; the others still need a
 * definition to link (a stub returning 0 is fine). */
#define KIT_F_CLIENT_HEADER 0x001u /* kit_client_header_decode */
#define KIT_F_CLIENT_BODY 0x002u   /* kit_client_body_split */
#define KIT_F_LIST 0x004u          /* kit_list_split */
#define KIT_F_FRAME_HEADER 0x008u  /* kit_frame_header_decode */
#define KIT_F_ACK 0x010u           /* kit_ack_decode */
#define KIT_F_FRAME_BODY 0x020u    /* kit_frame_body_split */
#define KIT_F_TOPIC 0x040u         /* kit_topic_match */
#define KIT_F_MASK 0x080u          /* kit_mask_match */
#define KIT_F_UTF8 0x100u          /* kit_utf8_valid */
#define KIT_F_NAME 0x200u          /* kit_name_valid */
#define KIT_F_ALL 0x3FFu
unsigned kit_features(void);

/* ---- Client -> broker frames (what a broker parses) ----------------------- */

/* Decodes the 9-byte client frame header (5.1): op id u32, flags, length
 * u32; op = flags % 64, qos = flags / 64. Valid operations (5.2, REQ-OP-1):
 * 0x00..0x06, 0x12, 0x13. A ping is the flags byte 0x00 (5.4): its length
 * field is ignored, never checked, and no body follows (REQ-QUIRK-7).
 * Returns 9 and sets every output; *body_len is the number of body bytes
 * that follow the header: 0 for a ping, else the length field.
 * Failures, in this order: KIT_ERR_SHORT (len < 9), KIT_ERR_OP (unknown
 * operation, REQ-FRM-4), KIT_ERR_LIMIT (not a ping and length > max_body,
 * REQ-FRM-5). */
int kit_client_header_decode(const uint8_t *buf, size_t len, uint32_t max_body,
                             uint32_t *op_id, uint8_t *op, uint8_t *qos, uint32_t *body_len);

/* Splits a client frame body by operation (5.5):
 *   0x01 publish, 0x12 message, 0x13 broadcast, 0x00 (op 0 with a QoS):
 *       target NUL payload, split at the first NUL (REQ-BODY-1, REQ-BODY-5)
 *   0x06 publish-for: topic NUL receiver NUL payload, split at the first two
 *       NULs; the topic goes to *target (REQ-BODY-2)
 *   0x02..0x05 subscribe family: *target is the whole body (REQ-BODY-3)
 * The payload is everything after the last separator used, NULs included.
 * Returns 0. Compared: *target always, *receiver for publish-for, *payload
 * except for the subscribe family. Failures: KIT_ERR_OP (unknown op),
 * KIT_ERR_NOSEP (a required NUL is missing, REQ-BODY-4). */
int kit_client_body_split(uint8_t op, const uint8_t *body, size_t len, struct kit_span *target,
                          struct kit_span *receiver, struct kit_span *payload);

/* Splits a subscribe-family body into its patterns (REQ-BODY-3): a body
 * with n NULs is a list of n + 1 patterns; an empty body is one empty
 * pattern (REQ-QUIRK-3). Stores the first min(n + 1, cap) items and
 * returns n + 1. Never fails. */
int kit_list_split(const uint8_t *body, size_t len, struct kit_span *items, size_t cap);

/* Checks a client name for registration (4.2, 4.3): 1 when it may be
 * registered as far as its bytes go (non-empty, first byte not '.',
 * well-formed UTF-8: REQ-NAME-1, REQ-NAME-2), else 0. NUL bytes are not
 * refused here (refusing them is a SHOULD, REQ-NAME-9, not compared). */
int kit_name_valid(const uint8_t *name, size_t len);

/* ---- Broker -> client frames (what a client library parses) --------------- */

/* Decodes a 6-byte delivered-frame header (6.2): kind, length u32,
 * realtime byte. Kinds: 0x00 NOP, 0x01 publication, 0x12 message, 0x13
 * broadcast. Returns 6 and sets *kind, *realtime (byte 5 as received, any
 * value, REQ-DLV-5) and *body_len: 0 for a NOP (no body is read after it,
 * whatever bytes 1..5 hold, REQ-DLV-4), else the length field.
 * Failures, in this order: KIT_ERR_SHORT (len < 6), KIT_ERR_KIND (byte 0
 * is none of the four kinds; 0xFE, an ACK, included: REQ-DLV-8),
 * KIT_ERR_LIMIT (not a NOP and length > max_body, REQ-LIM-7). */
int kit_frame_header_decode(const uint8_t *buf, size_t len, uint32_t max_body, uint8_t *kind,
                            uint32_t *body_len, uint8_t *realtime);

/* Decodes a 6-byte ACK (6.5): 0xFE, op id u32, result code. Returns 6.
 * Failures, in this order: KIT_ERR_SHORT (len < 6), KIT_ERR_MARKER (byte 0
 * is not 0xFE). */
int kit_ack_decode(const uint8_t *buf, size_t len, uint32_t *op_id, uint8_t *code);

/* Splits a delivered body by kind (6.3, REQ-DLV-7):
 *   0x12 message, 0x13 broadcast: sender NUL payload (first NUL)
 *   0x01 publication: sender NUL topic NUL payload (first two NULs)
 * Returns 0. Compared: *sender, *payload, and *topic for publications.
 * Failures: KIT_ERR_KIND (0x00 NOP or an unknown kind), KIT_ERR_NOSEP. */
int kit_frame_body_split(uint8_t kind, const uint8_t *body, size_t len, struct kit_span *sender,
                         struct kit_span *topic, struct kit_span *payload);

/* ---- Matching and text ------------------------------------------------------- */

/* 1 when subscription pattern matches publication topic, else 0 (8.4):
 * split both at every '/', empty chunks included; "+" matches one chunk;
 * "#" matches one or more remaining chunks and ends the pattern wherever it
 * stands, so "a/#" does not match "a" (REQ-TOPIC-1..5, REQ-QUIRK-4/5).
 * Neither argument contains a NUL byte. */
int kit_topic_match(const uint8_t *pattern, size_t plen, const uint8_t *topic, size_t tlen);

/* 1 when broadcast mask matches client name, else 0 (8.3): the same rules
 * with '.', "?" and "*" (REQ-MASK-1..4, REQ-MASK-6). Neither argument
 * contains a NUL byte. */
int kit_mask_match(const uint8_t *mask, size_t mlen, const uint8_t *name, size_t nlen);

/* 1 when s is well-formed UTF-8 per RFC 3629 (shortest forms only, no
 * surrogates U+D800..U+DFFF, nothing above U+10FFFF; the empty string and
 * NUL bytes are well-formed), else 0 (5.6, REQ-UTF8-1). */
int kit_utf8_valid(const uint8_t *s, size_t len);

#endif
