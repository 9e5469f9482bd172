/* Eva model of the part of jansson that acl.c uses. Only `make eva-broker`
 * / `make eva-full` see this header (it shadows <jansson.h> there); the
 * broker is built against the real library.
 *
 * json_loadf either fails (any line and column, an empty message) or
 * returns the document of proofs/eva_stubs.c's fixed access control file
 * (EVA_ACL_TEXT there), a read-only tree in static memory. The accessors
 * behave as jansson's do on that tree: type tests, object lookup by key,
 * object iteration over every key, array size and items, string value and
 * length, integer value; NULL for a missing key or index. Why this is
 * sound for the analysis: acl.c only reads the document, and jansson on
 * that file returns exactly this tree or an error (a read error, out of
 * memory), both of which are covered. Not covered: other policies (the
 * unit tests check acl.c's parsing of many files), and use of the tree
 * after json_decref (a no-op here; acl.c copies every string it keeps, see
 * proofs/README.md). */
#ifndef EVA_STUB_JANSSON_H
#define EVA_STUB_JANSSON_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_INTEGER,
    JSON_REAL,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL
} json_type;

typedef struct json_t {
    json_type type;
} json_t;

typedef long long json_int_t;

#define JSON_ERROR_TEXT_LENGTH 160
#define JSON_ERROR_SOURCE_LENGTH 80
typedef struct json_error_t {
    int line;
    int column;
    int position;
    char source[JSON_ERROR_SOURCE_LENGTH];
    char text[JSON_ERROR_TEXT_LENGTH];
} json_error_t;

#define JSON_REJECT_DUPLICATES 0x1

#define json_typeof(j) ((j)->type)
#define json_is_object(j) ((j) != NULL && json_typeof(j) == JSON_OBJECT)
#define json_is_array(j) ((j) != NULL && json_typeof(j) == JSON_ARRAY)
#define json_is_string(j) ((j) != NULL && json_typeof(j) == JSON_STRING)
#define json_is_integer(j) ((j) != NULL && json_typeof(j) == JSON_INTEGER)

json_t *json_loadf(FILE *input, size_t flags, json_error_t *error);
void json_decref(json_t *j);
json_t *json_object_get(const json_t *o, const char *key);
size_t json_array_size(const json_t *a);
json_t *json_array_get(const json_t *a, size_t i);
const char *json_string_value(const json_t *s);
size_t json_string_length(const json_t *s);
json_int_t json_integer_value(const json_t *i);
/* Key and value of an object's i-th member, NULL past the last. */
const char *eva_json_key_at(const json_t *o, size_t i);
json_t *eva_json_value_at(const json_t *o, size_t i);

/* Every member of object, as jansson's macro of the same name. */
#define json_object_foreach(object, key, value)                                      \
    for (size_t eva_json_i_ = 0;                                                     \
         ((key) = eva_json_key_at((object), eva_json_i_)) != NULL &&                 \
         ((value) = eva_json_value_at((object), eva_json_i_)) != NULL;               \
         eva_json_i_++)

#endif
