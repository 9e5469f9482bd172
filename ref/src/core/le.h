/* Little-endian field access shared by the core codecs. Written
 * arithmetically (not with shifts and masks) so that WP proves it. */
#ifndef BUSRT_CORE_LE_H
#define BUSRT_CORE_LE_H

#include <stddef.h>
#include <stdint.h>

#include "le_spec.h"

/*@ requires \valid_read(b + (0 .. 1));
    terminates \true;
    assigns \nothing;
    ensures \result == le16(b, 0);
*/
static inline uint16_t busrt_le16_get(const uint8_t *b)
{
    return (uint16_t)((uint16_t)b[0] + (uint16_t)(b[1] * 256u));
}

/*@ requires \valid_read(b + (0 .. 3));
    terminates \true;
    assigns \nothing;
    ensures \result == le32(b, 0);
*/
static inline uint32_t busrt_le32_get(const uint8_t *b)
{
    return (uint32_t)b[0] + (uint32_t)b[1] * 256u + (uint32_t)b[2] * 65536u +
           (uint32_t)b[3] * 16777216u;
}

/*@ requires \valid(b + (0 .. 1));
    terminates \true;
    assigns b[0 .. 1] \from v;
    ensures le16(b, 0) == v;
    ensures b[0] == v % 256 && b[1] == v / 256;
*/
static inline void busrt_le16_put(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v % 256u);
    b[1] = (uint8_t)(v / 256u);
}

/*@ requires \valid(b + (0 .. 3));
    terminates \true;
    assigns b[0 .. 3] \from v;
    ensures le32(b, 0) == v;
    ensures b[0] == v % 256 && b[1] == (v / 256) % 256 &&
            b[2] == (v / 65536) % 256 && b[3] == v / 16777216;
*/
static inline void busrt_le32_put(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v % 256u);
    b[1] = (uint8_t)((v / 256u) % 256u);
    b[2] = (uint8_t)((v / 65536u) % 256u);
    b[3] = (uint8_t)(v / 16777216u);
    /* One division step each: v = b[0] + 256 * (v / 256), and so on. */
    /*@ assert v == b[0] + 256 * (v / 256); */
    /*@ assert v / 256 == b[1] + 256 * (v / 65536); */
    /*@ assert v / 65536 == b[2] + 256 * (v / 16777216); */
}

#endif
