/* MessagePack output buffer with a sticky failure flag (see mpout.h). */
#include "mpout.h"

#include <stdint.h>
#include <string.h>

#include "mem.h"

static int mpout_write(void *data, const char *buf, size_t len)
{
    struct mpout *o = data;
    if (o->failed) {
        return -1;
    }
    if (len > o->sb.alloc - o->sb.size) {
        size_t cap = o->sb.alloc == 0u ? 256u : o->sb.alloc;
        while (cap - o->sb.size < len) {
            if (cap > SIZE_MAX / 2u) {
                o->failed = 1;
                return -1;
            }
            cap *= 2u;
        }
        char *n = mem_realloc(o->sb.data, cap);
        if (n == NULL) {
            o->failed = 1;
            return -1;
        }
        o->sb.data = n;
        o->sb.alloc = cap;
    }
    if (len > 0u) {
        memcpy(o->sb.data + o->sb.size, buf, len);
        o->sb.size += len;
    }
    return 0;
}

void mpout_init(struct mpout *o)
{
    o->sb.data = NULL;
    o->sb.size = o->sb.alloc = 0;
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
    mem_free(o->sb.data);
    o->sb.data = NULL;
    o->sb.size = o->sb.alloc = 0;
}
