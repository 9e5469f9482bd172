/* Eva model of the part of msgpack-c's packer API that busrtd uses
 * (coreapi.c, fifo.c, mpout.c). Only `make eva-broker` / `make eva-full`
 * see this header (it shadows <msgpack.h> there); the broker is built
 * against the real library.
 *
 * Why it is sound: in msgpack-c 3.x/4.x every msgpack_pack_* function
 * encodes its value into a small local buffer (at most 9 bytes) and hands
 * it to the packer's callback exactly once, returning the callback's
 * result; msgpack_pack_str_body hands over the caller's bytes as they are.
 * msgpack-c allocates nothing and touches no other memory. The model calls
 * the callback once with exactly the length msgpack-c would use (from the
 * MessagePack format rules for the value) and with bytes of ANY value, so
 * every state the callback (mpout_write) can reach with the real library
 * is reached here too. */
#ifndef EVA_STUB_MSGPACK_H
#define EVA_STUB_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

#include "__fc_builtin.h"

typedef int (*msgpack_packer_write)(void *data, const char *buf, size_t len);

typedef struct msgpack_packer {
    void *data;
    msgpack_packer_write callback;
} msgpack_packer;

static inline void msgpack_packer_init(msgpack_packer *pk, void *data,
                                       msgpack_packer_write callback)
{
    pk->data = data;
    pk->callback = callback;
}

/* One call of the callback with len bytes of unknown value. */
static inline int eva_mp_emit(msgpack_packer *pk, size_t len)
{
    char buf[9];
    Frama_C_make_unknown(buf, sizeof buf);
    return pk->callback(pk->data, buf, len);
}

/* Header length of a str, map or array of n items (fix / 8 / 16 / 32). */
static inline size_t eva_mp_hdr_len(size_t n, size_t fix_max, int has8)
{
    if (n <= fix_max) {
        return 1u;
    }
    if (has8 && n < 256u) {
        return 2u;
    }
    return n < 65536u ? 3u : 5u;
}

static inline int msgpack_pack_str(msgpack_packer *pk, size_t l)
{
    return eva_mp_emit(pk, eva_mp_hdr_len(l, 31u, 1));
}

static inline int msgpack_pack_str_body(msgpack_packer *pk, const void *b, size_t l)
{
    return pk->callback(pk->data, (const char *)b, l);
}

static inline int msgpack_pack_map(msgpack_packer *pk, size_t n)
{
    return eva_mp_emit(pk, eva_mp_hdr_len(n, 15u, 0));
}

static inline int msgpack_pack_array(msgpack_packer *pk, size_t n)
{
    return eva_mp_emit(pk, eva_mp_hdr_len(n, 15u, 0));
}

static inline int msgpack_pack_uint64(msgpack_packer *pk, uint64_t d)
{
    size_t len = d < 128u ? 1u : d < 256u ? 2u : d < 65536u ? 3u : d <= 0xFFFFFFFFu ? 5u : 9u;
    return eva_mp_emit(pk, len);
}

/* The length msgpack-c's int64 encoder picks: the shortest negative or
 * positive form (a non-negative value takes the unsigned forms). */
static inline int msgpack_pack_int64(msgpack_packer *pk, int64_t d)
{
    size_t len;
    if (d < -(1LL << 5)) {
        len = d < -(1LL << 31) ? 9u : d < -(1LL << 15) ? 5u : d < -(1LL << 7) ? 3u : 2u;
    } else {
        len = d < (1LL << 7) ? 1u : d < (1LL << 8) ? 2u : d < (1LL << 16) ? 3u
            : d < (1LL << 32) ? 5u : 9u;
    }
    return eva_mp_emit(pk, len);
}

static inline int msgpack_pack_double(msgpack_packer *pk, double d)
{
    (void)d;
    return eva_mp_emit(pk, 9u);
}

static inline int msgpack_pack_nil(msgpack_packer *pk)
{
    return eva_mp_emit(pk, 1u);
}

static inline int msgpack_pack_true(msgpack_packer *pk)
{
    return eva_mp_emit(pk, 1u);
}

static inline int msgpack_pack_false(msgpack_packer *pk)
{
    return eva_mp_emit(pk, 1u);
}

#endif
