/* A hash table from names to non-negative ints (open addressing, linear probing). The map
 * does not own its keys: each key must stay valid and unchanged while it is in the map,
 * so a user that frees or renames a key clears the map and fills it again. */
#ifndef QS_NAMEMAP_H
#define QS_NAMEMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *key;
    int val;
} NameSlot;

typedef struct {
    size_t cap;       /* a power of two, or 0 before the first put */
    size_t n;
    NameSlot *slots;  /* key NULL = empty */
} NameMap;

/* The hash of a name (well mixed in every bit), for other tables keyed by names. */
uint64_t namemap_hash(const char *s);

void namemap_init(NameMap *m);
void namemap_free(NameMap *m);
/* Forgets every key (keeps the storage). */
void namemap_clear(NameMap *m);
/* The value stored under `key`, or -1. */
int namemap_get(const NameMap *m, const char *key);
/* Stores `val` (>= 0) under `key` unless the key is already there: the first stays, as
 * with a scan from the front. Returns the value now stored under `key`. */
int namemap_put(NameMap *m, const char *key, int val);

#endif
