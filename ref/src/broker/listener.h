/* Listening sockets: UNIX paths and TCP HOST:PORT, and accepting clients. */
#ifndef BUSRTD_LISTENER_H
#define BUSRTD_LISTENER_H

#include "broker.h"

/* Opens (binds) a listener for addr (config.binds: a UNIX socket path made
 * absolute, or HOST:PORT); arg is the -B text as given, for the log. A
 * stale UNIX socket file is replaced only when no broker answers on it;
 * --socket-mode and --socket-group apply to UNIX socket files. A TCP
 * listener's address becomes the one actually bound (port 0: the port the
 * kernel chose). Returns 0, or -1 after logging why. */
int listener_open(struct listener *l, const char *addr, const char *arg,
                  const struct config *cfg);
void listener_close(struct listener *l);
/* Starts accepting on an opened listener and logs "listening on ADDR", the
 * address actually bound (with the -B text when it differs). Kept apart
 * from listener_open so that the pid file exists before any client can
 * connect. */
int listener_activate(struct listener *l);

/* Accepts one pending connection and starts its handshake, or refuses it
 * (closing it before the greeting) when a limit is reached: --max-clients,
 * --max-handshakes, no descriptor left, or one the multiplexer cannot
 * watch. Returns 1 when a connection was taken off the queue, 0 when none
 * was pending. */
int listener_accept(struct broker *b, struct listener *l);

#endif
