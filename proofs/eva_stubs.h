/* Shared between proofs/eva_stubs.c and proofs/eva_broker_driver.c. */
#ifndef EVA_STUBS_H
#define EVA_STUBS_H

/* Descriptors the multiplexer model can watch. */
#define EVA_FDS 8
/* EINTRs the socket model may still return in this loop turn. */
extern int eva_eintr_left;
/* 1 after a partial write: writes block until the next loop turn. */
extern int eva_socket_full;

#endif
