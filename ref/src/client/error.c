/* libbusrt: error texts, and marking a connection lost. */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include <sys/socket.h>

static const char *rc_text(uint8_t rc)
{
    switch (rc) {
    case BUSRT_RC_NOT_REGISTERED:
        return "not registered (0x71: no such client, or the primary of a secondary "
               "name is not registered)";
    case BUSRT_RC_DATA:
        return "data error (0x72: invalid name or data)";
    case BUSRT_RC_IO:
        return "I/O error (0x73)";
    case BUSRT_RC_OTHER:
        return "other error (0x74: a broker limit was reached)";
    case BUSRT_RC_NOT_SUPPORTED:
        return "not supported (0x75: protocol version refused)";
    case BUSRT_RC_BUSY:
        return "busy (0x76: name already registered)";
    case BUSRT_RC_NOT_DELIVERED:
        return "not delivered (0x77: the target's queue is full)";
    case BUSRT_RC_TIMEOUT:
        return "timeout (0x78)";
    case BUSRT_RC_ACCESS:
        return "access denied (0x79)";
    default:
        return "unknown result code from the broker";
    }
}

const char *busrt_client_strerror(int err)
{
    if (BUSRT_E_IS_RC(err)) {
        return rc_text(BUSRT_E_RC_CODE(err));
    }
    switch (err) {
    case 0: return "success";
    case BUSRT_E_SYS: return "system error (see errno)";
    case BUSRT_E_TIMEOUT: return "timed out";
    case BUSRT_E_CLOSED: return "connection closed";
    case BUSRT_E_PROTO: return "protocol error: the broker sent invalid bytes";
    case BUSRT_E_ADDR: return "bad address (expected a UNIX socket path or HOST:PORT)";
    case BUSRT_E_INVAL: return "invalid argument";
    case BUSRT_E_NOMEM: return "out of memory";
    case BUSRT_E_TOO_BIG: return "frame too large";
    case BUSRT_E_UNKNOWN_OP: return "no ACK is awaited for this op id";
    case BUSRT_E_RPC: return "RPC call failed";
    case BUSRT_E_HANDSHAKE:
        return "the broker closed the connection during the handshake (name refused "
               "without a result code)";
    case BUSRT_E_IDLE: return "connection lost: nothing received within the idle timeout";
    case BUSRT_E_LIMIT: return "a configured limit is reached";
    default: return busrt_strerror(err);
    }
}

void bc_fail(busrt_client *c, int err)
{
    if (c->err == 0) {
        c->err = err;
        /* Nothing more will be read or written; wake up a peer. */
        (void)shutdown(c->fd, SHUT_RDWR);
    }
}
