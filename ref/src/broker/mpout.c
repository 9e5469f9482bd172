/* MessagePack output buffer with a sticky failure flag (see mpout.h). */
#include "mpout.h"

static int mpout_write(void *data, const char *buf, size_t len)
{
    struct mpout *o = data;
    if (o->failed || msgpack_sbuffer_write(&o->sb, buf, len) != 0) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

void mpout_init(struct mpout *o)
{
    msgpack_sbuffer_init(&o->sb);
    o->failed = 0;
    msgpack_packer_init(&o->pk, o, mpout_write);
}

void mpout_raw(struct mpout *o, const void *p, size_t n)
{
    if (n > 0) {
        (void)mpout_write(o, p, n);
    }
}

void mpout_destroy(struct mpout *o)
{
    msgpack_sbuffer_destroy(&o->sb);
}
