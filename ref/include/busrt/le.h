/* Little-endian u16 and u32 fields, as the BUS/RT wire format lays them
 * out (op ids, lengths, name lengths, RPC call ids and error codes), for
 * code that reads or writes frames byte by byte. Header only.
 *
 * The same arithmetic as the proved core's own helpers (ref/src/core/le.h,
 * kept there with their ACSL contracts): no shifts, no alignment or
 * host byte order assumptions. */
#ifndef BUSRT_LE_H
#define BUSRT_LE_H

#include <stdint.h>

/* The u16 stored at b[0] (low byte) and b[1]. */
static inline uint16_t busrt_get_le16(const uint8_t *b)
{
    return (uint16_t)((uint16_t)b[0] + (uint16_t)(b[1] * 256u));
}

/* The u32 stored at b[0] (low byte) to b[3]. */
static inline uint32_t busrt_get_le32(const uint8_t *b)
{
    return (uint32_t)b[0] + (uint32_t)b[1] * 256u + (uint32_t)b[2] * 65536u +
           (uint32_t)b[3] * 16777216u;
}

/* Stores v at b[0] (low byte) and b[1]. */
static inline void busrt_put_le16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v % 256u);
    b[1] = (uint8_t)(v / 256u);
}

/* Stores v at b[0] (low byte) to b[3]. */
static inline void busrt_put_le32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v % 256u);
    b[1] = (uint8_t)((v / 256u) % 256u);
    b[2] = (uint8_t)((v / 65536u) % 256u);
    b[3] = (uint8_t)(v / 16777216u);
}

#endif
