/* Included first in every file of the broker Eva analyses (-include).
 * Frama-C 25 cannot parse _Alignof, which its <stdalign.h> makes of
 * alignof, and its <stddef.h> lacks max_align_t; both only appear in a
 * static assertion of mem.c, which the C compiler checks in every build.
 * Here Frama-C's <stdalign.h> is skipped (its include guard is set) and
 * alignof(T) is 16, max_align_t's alignment on x86_64. */
#ifndef EVA_FC_COMPAT_H
#define EVA_FC_COMPAT_H
#define __FC_STDALIGN
#define alignof(T) 16u
/* Linux socket type flags, missing from Frama-C's <sys/socket.h>. */
#define SOCK_CLOEXEC 02000000
#define SOCK_NONBLOCK 04000
#endif
