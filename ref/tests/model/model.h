/* Independent models of the protocol rules, written from the spec text and
 * not from the core's code: the reference the unit tests and the fuzzers
 * compare the proved core against. Simple over fast. */
#ifndef BUSRT_TEST_MODEL_H
#define BUSRT_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* Chunk matching as spec sections 10/11 state it: split both strings at
 * sep into chunk lists, then walk them recursively. `one` matches any one
 * chunk; `many` matches one or more remaining chunks and ends the pattern.
 * Returns 1 on a match, else 0. Handles strings of any length. */
int model_match(const uint8_t *pat, size_t pl, const uint8_t *subj, size_t sl,
                uint8_t sep, uint8_t one, uint8_t many);
int model_topic(const uint8_t *pat, size_t pl, const uint8_t *topic, size_t tl);
int model_mask(const uint8_t *mask, size_t ml, const uint8_t *name, size_t nl);

/* UTF-8 by decoding: read each sequence by its bit pattern, then reject
 * overlong forms, surrogates and values above U+10FFFF. */
int model_utf8_decode(const uint8_t *s, size_t n);
/* UTF-8 by a byte-class table and a state-transition table (RFC 3629's
 * grammar as an automaton). */
int model_utf8_dfa(const uint8_t *s, size_t n);

#endif
