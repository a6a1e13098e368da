/* Runs of pages in two bitmaps (runmap.h). */
#include <stdbool.h>

#include "runmap.h"

#define WORD_BITS 64

static bool test(const uint64_t *map, size_t i)
{
    return (map[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

static void set(uint64_t *map, size_t i, bool on)
{
    uint64_t bit = 1ULL << (i % WORD_BITS);

    if (on)
        map[i / WORD_BITS] |= bit;
    else
        map[i / WORD_BITS] &= ~bit;
}

size_t runmap_alloc(struct runmap *m, size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < m->size; i++) {
        run = test(m->used, i) ? 0 : run + 1;
        if (run < n)
            continue;
        size_t first = i + 1 - n;

        for (size_t j = first; j <= i; j++)
            set(m->used, j, true);
        set(m->head, first, true);
        return first;
    }
    return m->size;
}

enum runmap_fault runmap_check(const struct runmap *m, size_t first, size_t n)
{
    size_t end = first + n;

    if (!test(m->used, first))
        return RUNMAP_FREE;
    if (!test(m->head, first))
        return RUNMAP_NOT_HEAD;
    for (size_t i = first; i < end; i++) {
        if (!test(m->used, i) || (i > first && test(m->head, i)))
            return RUNMAP_TOO_LONG;
    }
    if (end < m->size && test(m->used, end) && !test(m->head, end))
        return RUNMAP_TOO_SHORT;
    return RUNMAP_MATCH;
}

void runmap_free(struct runmap *m, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++)
        set(m->used, i, false);
    set(m->head, first, false);
}
