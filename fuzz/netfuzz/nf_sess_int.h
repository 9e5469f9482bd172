/* Internals of a session, shared by the files that run it: nf_session.c
 * (nf_session_run: the action loop, the end phase, the probe), nf_recv.c
 * (reading and checking what the broker sends), nf_send.c (sending through
 * the model), nf_gen.c (the generators), nf_reg.c (registrations),
 * nf_act.c (the actions) and nf_settle.c (sync points). Not for the other
 * modules of the fuzzer: nf.h is their interface. */
#ifndef BUSRT_NETFUZZ_SESS_INT_H
#define BUSRT_NETFUZZ_SESS_INT_H

#include "nf.h"

/* ---- Receiving and checking (nf_recv.c) ------------------------------------ */

/* A client's name for reports ("?" when it has none). */
const char *nfs_cname(struct nf_sess *S, int c);
/* A short human-readable description of a broker frame. */
void nfs_describe(const uint8_t *f, size_t n, char *out, size_t cap);
/* Closes client c's socket (recording type, unless < 0) and marks it gone. */
void nfs_close_fd(struct nf_sess *S, int c, int type);
/* The broker dropped a client the model keeps: 1 (and the model lets it
 * go) when a timeout allows that, else 0. */
int nfs_dropped_on_timeout(struct nf_sess *S, int c);
/* Reads every open socket for up to timeout_ms (returns after the first
 * batch of events). out_fd, when >= 0, is also polled for writability. */
void nfs_pump(struct nf_sess *S, int timeout_ms, int out_fd);
/* Reads for ms milliseconds. */
void nfs_pump_for(struct nf_sess *S, int ms);

/* ---- Sending (nf_send.c) --------------------------------------------------- */

/* Client c is live and connected. */
int nfs_can_act(const struct nf_sess *S, int c);
/* Sends a chunk of client c through the model, in up to `pieces` writes.
 * Returns the fate the model gives the connection (NF_OPEN...). */
int nfs_put(struct nf_sess *S, int c, const uint8_t *p, size_t n, int pieces);
/* Deliveries of the frames after seq0 become optional. */
void nfs_mark_uncertain(struct nf_sess *S, uint32_t seq0);
/* Pings idle clients; finishes one frame started long ago and returns 1
 * then (the caller syncs it), else 0. */
int nfs_keepalive(struct nf_sess *S);

/* ---- Generators (nf_gen.c) ------------------------------------------------- */

/* Where the next choice comes from: an offset into the recorded or fed
 * bytes. */
size_t nfs_src_pos(const struct nf_sess *S);
void nfs_gen_primary(struct nf_sess *S, struct nf_buf *b);
void nfs_gen_topic(struct nf_sess *S, struct nf_buf *b);
/* from_held: 0 any pattern, 1 often one of c's subscriptions, 2 often one
 * of its exclusions. */
void nfs_gen_pattern(struct nf_sess *S, int c, int from_held, struct nf_buf *b);
void nfs_gen_payload(struct nf_sess *S, struct nf_buf *b);
/* Appends one of the invalid UTF-8 sequences. */
void nfs_add_bad_utf8(struct nf_sess *S, struct nf_buf *b);
/* A live (or any used) slot, ctl only when allow_ctl, or -1. */
int nfs_pick_client(struct nf_sess *S, int live_only, int allow_ctl);
void nfs_add_frame(struct nf_buf *out, uint32_t opid, uint8_t flags, const uint8_t *body,
                   size_t blen, uint32_t len_field);
/* Appends one valid frame of client c. send_only: no subscribe family. */
void nfs_gen_frame(struct nf_sess *S, int c, int send_only, struct nf_buf *out);
/* A name for a new registration, per the kinds of REQ-NAME-*. */
void nfs_gen_reg_name(struct nf_sess *S, struct nf_buf *b);

/* ---- Registration (nf_reg.c) ----------------------------------------------- */

/* Reads exactly n bytes from fd within timeout_ms. Returns n, the count
 * read before EOF (0..n-1), or -1 on a timeout. */
long nfs_read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms);
/* Sends handshake bytes on a connection that is not a live client's. */
int nfs_hs_send(struct nf_sess *S, int fd, int conn, const uint8_t *p, size_t n, int flags);
void nfs_slot_reset(struct nf_client *C);
/* Connects, handshakes and registers name in a free slot. Returns the slot
 * (registered), -1 when the model expects a refusal (checked) or there is
 * no slot, -2 when the broker cannot be reached. */
int nfs_do_register(struct nf_sess *S, const uint8_t *name, size_t n, int split);
/* Registers the session prefix followed by suffix. */
int nfs_register_named(struct nf_sess *S, const char *suffix);

/* ---- Actions (nf_act.c) ---------------------------------------------------- */

void nfs_act_ops(struct nf_sess *S, int c);
void nfs_act_concurrent(struct nf_sess *S);
void nfs_act_partial(struct nf_sess *S, int c);
void nfs_act_garbage(struct nf_sess *S, int c);
void nfs_act_disconnect(struct nf_sess *S, int c);
void nfs_act_hs_junk(struct nf_sess *S);

/* ---- Sync points (nf_settle.c) --------------------------------------------- */

/* Client c sends a QoS 1 message to target. */
void nfs_sync_frame(struct nf_sess *S, int c, const uint8_t *target, size_t tn,
                    const char *payload);
/* Waits until every live client received every expected frame and every
 * dying connection reached EOF. */
void nfs_wait_expected(struct nf_sess *S);
/* Syncs every client that acted, waits for what they cause and for the
 * names of dead clients to be released. */
void nfs_settle(struct nf_sess *S);

#endif
