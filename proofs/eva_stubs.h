/* Shared between proofs/eva_stubs.c and proofs/eva_broker_driver.c. */
#ifndef EVA_STUBS_H
#define EVA_STUBS_H

#include <stddef.h>
#include <stdint.h>

/* Descriptors the multiplexer model can watch. */
#define EVA_FDS 8
/* EINTRs the socket model may still return in this loop turn. */
extern int eva_eintr_left;
/* 1 after a partial write: writes block until the next loop turn. */
extern int eva_socket_full;
/* 1 while the script of EVA_SCENES runs: the models do not fail, the
 * socket is the script's (below), every watched descriptor is ready and
 * the clock advances by 1 ms per reading; the other forms analyse the
 * failures. */
extern int eva_script;
/* The script's socket: the peer on eva_rd_fd sent eva_rd_left bytes at
 * eva_rd_src, which read() returns eva_rd_chunk at a time, then EAGAIN (or
 * end of file when eva_rd_eof); every other descriptor has nothing. A
 * write takes at most eva_wr_budget bytes in all (SIZE_MAX: no limit),
 * then blocks (EAGAIN). */
extern int eva_rd_fd;
extern const uint8_t *eva_rd_src;
extern size_t eva_rd_left, eva_rd_chunk;
extern int eva_rd_eof;
extern size_t eva_wr_budget;
/* The monotonic clock's last reading (the script moves it on). */
extern int64_t eva_mono;

#endif
