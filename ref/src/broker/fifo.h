/* Line-command FIFO for shell scripts (-B fifo:PATH). */
#ifndef BUSRTD_FIFO_H
#define BUSRTD_FIFO_H

struct broker;
struct fifo;

/* Creates the FIFO (mode 0622, replacing a leftover one) and opens it.
 * Returns NULL after logging why. */
struct fifo *fifo_open(const char *path);
int fifo_fd(const struct fifo *f);
/* Reads available bytes and runs every complete line as a command. */
void fifo_on_readable(struct broker *b, struct fifo *f);
/* Closes and removes the FIFO. */
void fifo_close(struct fifo *f);

#endif
