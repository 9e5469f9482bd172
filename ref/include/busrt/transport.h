/* libbusrt over a byte transport supplied by the caller instead of a
 * socket. An embedded broker's in-process connections (busrt/busrtd.h,
 * busrtd_connect) are built on it; every other function of busrt/client.h
 * and busrt/rpc.h works on such a client unchanged.
 *
 * The transport carries the same bytes a socket would: the handshake of
 * spec section 4, then frames. Waiting is done on a descriptor the
 * transport owns: it must be readable whenever read() may return bytes or
 * a loss (an eventfd, for example); busrt_fd() returns it. */
#ifndef BUSRT_TRANSPORT_H
#define BUSRT_TRANSPORT_H

#include <stddef.h>
#include <sys/uio.h>

#include "busrt/client.h"

#ifdef __cplusplus
extern "C" {
#endif

struct busrt_transport {
    /* Takes every byte of iov[0..iovcnt) without blocking. Returns their
     * count, or a negative BUSRT_E_* code when the connection is lost. */
    long (*writev)(void *ctx, const struct iovec *iov, int iovcnt);
    /* Copies up to n bytes that are available into buf. Returns the count
     * (> 0); 0 when none is available now (the descriptor becomes readable
     * when some may be); or a negative BUSRT_E_* code when the connection
     * is lost (BUSRT_E_CLOSED: the peer closed it). */
    long (*read)(void *ctx, void *buf, size_t n);
    /* Ends the connection; ctx is not used afterwards. */
    void (*close)(void *ctx);
};

/* busrt_client_connect() over transport t with context ctx and wait
 * descriptor fd: runs the handshake (cfg as for busrt_client_connect; its
 * connect_timeout_ms bounds the handshake). The client owns ctx from here
 * on: t->close(ctx) is called by busrt_client_close(), or before this
 * function returns an error. Returns 0 or a negative BUSRT_E_* code. */
int busrt_client_connect_transport(busrt_client **out, const struct busrt_transport *t,
                                   void *ctx, int fd, const struct busrt_client_config *cfg);

#ifdef __cplusplus
}
#endif

#endif
