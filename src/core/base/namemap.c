#include "base/namemap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* FNV-1a, then a final mix (murmur3's fmix64): FNV's low bits alone cluster for names
 * that differ only in a trailing counter ("v1", "v2", ...), and the table indexes by them. */
uint64_t namemap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

void namemap_init(NameMap *m) { memset(m, 0, sizeof *m); }

void namemap_free(NameMap *m)
{
    free(m->slots);
    namemap_init(m);
}

void namemap_clear(NameMap *m)
{
    if (m->slots)
        memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0;
}

/* The slot holding `key`, or the empty slot where it would go. */
static NameSlot *find_slot(const NameMap *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)namemap_hash(key) & mask;; i = (i + 1) & mask) {
        NameSlot *s = &m->slots[i];
        if (!s->key || strcmp(s->key, key) == 0)
            return s;
    }
}

int namemap_get(const NameMap *m, const char *key)
{
    if (!m->cap)
        return -1;
    const NameSlot *s = find_slot(m, key);
    return s->key ? s->val : -1;
}

static void grow(NameMap *m)
{
    NameMap bigger = { .cap = m->cap ? 2 * m->cap : 64 };
    bigger.slots = xcalloc(bigger.cap, sizeof *bigger.slots);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *find_slot(&bigger, m->slots[i].key) = m->slots[i];
    bigger.n = m->n;
    free(m->slots);
    *m = bigger;
}

int namemap_put(NameMap *m, const char *key, int val)
{
    if (2 * (m->n + 1) > m->cap)
        grow(m);
    NameSlot *s = find_slot(m, key);
    if (s->key)
        return s->val;
    s->key = key;
    s->val = val;
    m->n++;
    return val;
}
