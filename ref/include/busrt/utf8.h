/* UTF-8 validation (RFC 3629). Pure; contract in ref/src/core/utf8.c. */
#ifndef BUSRT_UTF8_H
#define BUSRT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s[0, len) is well-formed UTF-8 (RFC 3629: shortest form only, no
 * surrogates U+D800..U+DFFF, nothing above U+10FFFF), else 0. The empty
 * string is well-formed. */
int busrt_utf8_valid(const uint8_t *s, size_t len);

#endif
