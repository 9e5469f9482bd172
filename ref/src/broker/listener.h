/* Listening sockets: UNIX paths and TCP HOST:PORT, and accepting clients. */
#ifndef BUSRTD_LISTENER_H
#define BUSRTD_LISTENER_H

#include "broker.h"

/* 1 when addr names a UNIX socket: it ends in .sock, .socket or .ipc, or
 * starts with '/'. */
int addr_is_unix(const char *addr);

/* Opens (binds) a listener for addr; listener_activate starts it. A stale UNIX socket file is replaced only when
 * no broker answers on it; --socket-mode and --socket-group apply to UNIX
 * socket files. Returns 0, or -1 after logging why. */
int listener_open(struct listener *l, const char *addr, const struct config *cfg);
void listener_close(struct listener *l);
/* Starts accepting on an opened listener. Kept apart from listener_open so
 * that the pid file exists before any client can connect. */
int listener_activate(struct listener *l);

/* Accepts one pending connection and starts its handshake, or refuses it
 * (closing it before the greeting) when a limit is reached: --max-clients,
 * --max-handshakes, no descriptor left, or one the multiplexer cannot
 * watch. Returns 1 when a connection was taken off the queue, 0 when none
 * was pending. */
int listener_accept(struct broker *b, struct listener *l);

#endif
