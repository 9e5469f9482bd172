/* Human-readable texts for core error codes and wire result codes. */
#include "busrt/codes.h"

const char *busrt_strerror(int err)
{
    switch (err) {
    case BUSRT_ERR_SHORT: return "more input bytes are needed";
    case BUSRT_ERR_GREETING: return "handshake greeting byte is not 0xEB";
    case BUSRT_ERR_VERSION: return "unsupported protocol version (expected 1)";
    case BUSRT_ERR_OP: return "unknown operation code";
    case BUSRT_ERR_LIMIT: return "length exceeds the configured limit";
    case BUSRT_ERR_NOSEP: return "required NUL separator is missing";
    case BUSRT_ERR_UTF8: return "bytes are not well-formed UTF-8";
    case BUSRT_ERR_SPACE: return "output buffer is too small";
    case BUSRT_ERR_MARKER: return "ACK does not start with 0xFE";
    case BUSRT_ERR_KIND: return "unknown frame kind";
    case BUSRT_ERR_NAME: return "client name is empty or starts with '.'";
    case BUSRT_ERR_RPC_KIND: return "unknown RPC frame kind";
    case BUSRT_ERR_ARG: return "argument out of range";
    case BUSRT_ERR_MSGPACK: return "invalid MessagePack type byte";
    default: return err >= 0 ? "success" : "unknown error";
    }
}

const char *busrt_rc_str(uint8_t rc)
{
    switch (rc) {
    case BUSRT_RC_OK: return "OK";
    case BUSRT_RC_NOT_REGISTERED: return "not registered";
    case BUSRT_RC_DATA: return "data error";
    case BUSRT_RC_IO: return "I/O error";
    case BUSRT_RC_OTHER: return "other error";
    case BUSRT_RC_NOT_SUPPORTED: return "not supported";
    case BUSRT_RC_BUSY: return "busy";
    case BUSRT_RC_NOT_DELIVERED: return "not delivered";
    case BUSRT_RC_TIMEOUT: return "timeout";
    case BUSRT_RC_ACCESS: return "access denied";
    default: return "unknown result code";
    }
}
