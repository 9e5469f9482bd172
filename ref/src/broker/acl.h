/* Access control (busrtd --acl FILE): who may register, from where, and
 * which targets, topics and masks each client may use. The file format is
 * documented in spec/busrt-v1.md (section 15.3) and contrib/acl.example.json.
 *
 * Without a file everything is allowed. With one, a primary name that no
 * entry covers is refused (0x79); secondaries follow their primary's
 * entry. Each allow-list that an entry omits allows everything; an empty
 * list allows nothing. */
#ifndef BUSRTD_ACL_H
#define BUSRTD_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct acl;
struct acl_entry;

/* The connection facts an entry's source rules are checked against. */
struct acl_peer {
    int is_tcp;
    struct sockaddr_storage addr; /* TCP peer address */
    int has_cred;                 /* UNIX peer credentials known */
    uid_t uid;
    gid_t gid;
};

/* Loads and validates a file. Returns NULL after writing a one-line
 * reason into err, without the path (the caller names the file): "cannot
 * open: No such file or directory", "is a directory, expected a JSON
 * file", "not valid JSON: line 3, column 5: ...", or the entry and field
 * at fault. */
struct acl *acl_load(const char *path, char *err, size_t errlen);
void acl_free(struct acl *a);
size_t acl_entries(const struct acl *a);

/* The entry governing a primary name: an exact name entry, else the first
 * mask entry (in file order) that matches it; NULL when none does. */
const struct acl_entry *acl_find(const struct acl *a, const uint8_t *primary, size_t len);
/* 1 when the peer may connect under e. */
int acl_peer_ok(const struct acl_entry *e, const struct acl_peer *p);

enum acl_op { ACL_MESSAGE, ACL_PUBLISH, ACL_SUBSCRIBE, ACL_BROADCAST };
/* 1 when e allows op on s: a message target name, a publication topic, a
 * subscription pattern (allowed when every topic it matches is allowed),
 * or a broadcast mask (allowed when every name it matches is allowed). */
int acl_allows(const struct acl_entry *e, enum acl_op op, const uint8_t *s, size_t len);

/* 1 when every subject pattern `sub` matches is also matched by `allow`
 * (chunk patterns with the given separator and wildcards). Exposed for
 * tests. */
int acl_pattern_within(const uint8_t *sub, size_t slen, const uint8_t *allow, size_t alen,
                       uint8_t sep, uint8_t one, uint8_t many);

#endif
