/* BUS/RT wire protocol v1: constants shared by every module.
 * The numbers are fixed by spec/busrt-v1.md; each group names its section. */
#ifndef BUSRT_CODES_H
#define BUSRT_CODES_H

#include <stddef.h>
#include <stdint.h>

#define BUSRT_VERSION_STRING "0.1.0"

/* Handshake (spec section 4). */
#define BUSRT_GREETING 0xEBu
#define BUSRT_PROTOCOL_VERSION 1u
#define BUSRT_GREETING_LEN 3u
#define BUSRT_NAME_LEN_FIELD 2u
#define BUSRT_NAME_MAX 65535u
/* Largest client frame body a broker may accept: a delivery adds a sender
 * name (<= 65535 bytes) and a NUL, and must still fit a u32 length. */
#define BUSRT_BODY_MAX 4294901759u

/* Frame sizes (spec sections 5 and 6). */
#define BUSRT_CLIENT_HEADER_LEN 9u
#define BUSRT_FRAME_HEADER_LEN 6u
#define BUSRT_ACK_LEN 6u
#define BUSRT_ACK_MARKER 0xFEu

/* Client operations: the low 6 bits of the flags byte (spec 5.2). */
#define BUSRT_OP_NOP 0x00u
#define BUSRT_OP_PUBLISH 0x01u
#define BUSRT_OP_SUBSCRIBE 0x02u
#define BUSRT_OP_UNSUBSCRIBE 0x03u
#define BUSRT_OP_EXCLUDE 0x04u
#define BUSRT_OP_UNEXCLUDE 0x05u
#define BUSRT_OP_PUBLISH_FOR 0x06u
#define BUSRT_OP_MESSAGE 0x12u
#define BUSRT_OP_BROADCAST 0x13u

/* Delivered frame kinds (spec 6.2). */
#define BUSRT_KIND_NOP 0x00u
#define BUSRT_KIND_PUBLISH 0x01u
#define BUSRT_KIND_MESSAGE 0x12u
#define BUSRT_KIND_BROADCAST 0x13u

/* QoS: the high 2 bits of the flags byte (spec 5.3). */
#define BUSRT_QOS_NO 0u
#define BUSRT_QOS_PROCESSED 1u
#define BUSRT_QOS_REALTIME 2u
#define BUSRT_QOS_REALTIME_PROCESSED 3u

/* Result codes carried by handshake replies and ACKs (spec 7). */
#define BUSRT_RC_OK 0x01u
#define BUSRT_RC_NOT_REGISTERED 0x71u
#define BUSRT_RC_DATA 0x72u
#define BUSRT_RC_IO 0x73u
#define BUSRT_RC_OTHER 0x74u
#define BUSRT_RC_NOT_SUPPORTED 0x75u
#define BUSRT_RC_BUSY 0x76u
#define BUSRT_RC_NOT_DELIVERED 0x77u
#define BUSRT_RC_TIMEOUT 0x78u
#define BUSRT_RC_ACCESS 0x79u

/* RPC layer kinds: first byte of a message payload (spec 12). */
#define BUSRT_RPC_NOTIFICATION 0x00u
#define BUSRT_RPC_REQUEST 0x01u
#define BUSRT_RPC_REPLY 0x11u
#define BUSRT_RPC_ERROR 0x12u

/* RPC error codes (JSON-RPC numbering). */
#define BUSRT_RPC_E_PARSE (-32700)
#define BUSRT_RPC_E_INVALID_REQUEST (-32600)
#define BUSRT_RPC_E_METHOD_NOT_FOUND (-32601)
#define BUSRT_RPC_E_INVALID_PARAMS (-32602)
#define BUSRT_RPC_E_INTERNAL (-32603)
#define BUSRT_RPC_E_NOT_FOUND (-32001)
/* A broker ACK code C for an RPC call frame maps to RPC error -32000 - C. */
#define BUSRT_RPC_E_ACK_BASE (-32000)

/* Negative return codes of the core functions. Non-negative returns are
 * byte counts or booleans, as each function documents. */
#define BUSRT_ERR_SHORT (-1)     /* more input bytes are needed */
#define BUSRT_ERR_GREETING (-2)  /* first handshake byte is not 0xEB */
#define BUSRT_ERR_VERSION (-3)   /* protocol version is not 1 */
#define BUSRT_ERR_OP (-4)        /* unknown operation code */
#define BUSRT_ERR_LIMIT (-5)     /* a length exceeds the configured limit */
#define BUSRT_ERR_NOSEP (-6)     /* a required NUL separator is missing */
#define BUSRT_ERR_UTF8 (-7)      /* bytes are not well-formed UTF-8 */
#define BUSRT_ERR_SPACE (-8)     /* the output buffer is too small */
#define BUSRT_ERR_MARKER (-9)    /* ACK frame does not start with 0xFE */
#define BUSRT_ERR_KIND (-10)     /* unknown delivered-frame kind */
#define BUSRT_ERR_NAME (-11)     /* client name is empty or starts with '.' */
#define BUSRT_ERR_RPC_KIND (-12) /* unknown RPC layer kind */
#define BUSRT_ERR_ARG (-13)      /* an argument is outside its documented range */
#define BUSRT_ERR_MSGPACK (-14)  /* MessagePack type byte 0xC1 (never used) */

/* Text for a BUSRT_ERR_* code (static storage, never NULL). */
const char *busrt_strerror(int err);
/* Text for a BUSRT_RC_* result code (static storage, never NULL). */
const char *busrt_rc_str(uint8_t rc);

#endif
