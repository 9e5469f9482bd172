/* Steps that act on the broker instance rather than through a client: the
 * FIFO, the access policy reload, stopping the broker. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int step_fifo_write(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)c;
    if (ce->in->fifo[0] == '\0') {
        return failf(ce, "fifo_write needs the broker option fifo");
    }
    struct buf line;
    buf_init(&line);
    if (field_bytes(ce, st, "line", &line) < 0) {
        buf_free(&line);
        return failf(ce, "bad line_hex");
    }
    json_t *nl = json_object_get(st, "newline");
    if (nl == NULL || json_is_true(nl)) {
        buf_addc(&line, '\n');
    }
    int64_t deadline = now_ms() + ce->bound_ms;
    int fd = -1;
    while (fd < 0) {
        fd = open(ce->in->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (now_ms() >= deadline) {
                int e = errno;
                buf_free(&line);
                return failf(ce, "cannot open the FIFO %s for writing: %s", ce->in->fifo,
                             strerror(e));
            }
            sleep_ms(10);
        }
    }
    size_t off = 0;
    while (off < buf_len(&line)) {
        ssize_t n = write(fd, buf_data(&line) + off, buf_len(&line) - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR) && now_ms() < deadline) {
            sleep_ms(5);
        } else {
            int e = errno;
            close(fd);
            buf_free(&line);
            return failf(ce, "writing to the FIFO failed: %s", strerror(e));
        }
    }
    close(fd);
    buf_free(&line);
    return 0;
}

int step_fifo_check(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)c;
    if (ce->in->fifo[0] == '\0') {
        return failf(ce, "fifo_check needs the broker option fifo");
    }
    struct stat sb;
    if (stat(ce->in->fifo, &sb) != 0) {
        return failf(ce, "the FIFO %s does not exist: %s", ce->in->fifo, strerror(errno));
    }
    unsigned long want = strtoul(json_string_value(json_object_get(st, "mode")), NULL, 8);
    if (!S_ISFIFO(sb.st_mode)) {
        return failf(ce, "%s is not a FIFO", ce->in->fifo);
    }
    if ((unsigned long)(sb.st_mode & 07777) != want) {
        buf_reset(&ce->res->expected);
        buf_printf(&ce->res->expected, "mode %04lo", want);
        buf_reset(&ce->res->received);
        buf_printf(&ce->res->received, "mode %04lo", (unsigned long)(sb.st_mode & 07777));
        return failf(ce, "the FIFO has the wrong file mode");
    }
    return 0;
}

int step_update_acl(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)c;
    if (ce->in->acl[0] == '\0' || ce->in->pid <= 0) {
        return failf(ce, "update_acl needs a spawned broker with the option acl");
    }
    if (acl_write(ce->in->acl, json_object_get(st, "acl"), ce->prefix) != 0) {
        return failf(ce, "cannot rewrite %s", ce->in->acl);
    }
    if (kill(ce->in->pid, ce->r->reload_signal) != 0) {
        return failf(ce, "cannot signal the broker: %s", strerror(errno));
    }
    return 0;
}

int step_stop_broker(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)c;
    (void)st;
    if (!ce->in->is_private || ce->in->pid <= 0) {
        return failf(ce, "stop_broker needs a broker the runner started for this case");
    }
    return instance_signal_stop(ce->in) == 0 ? 0 : failf(ce, "cannot signal the broker");
}
