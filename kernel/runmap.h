/*
 * Runs of pages handed out first fit from two bitmaps: the DMA pool's
 * (dma.c) and the vmap window's (vmap.c).
 *
 * `used` marks pages that belong to a run, `head` the first page of each, so
 * that giving a run back can be checked to match one exactly: a bad free is
 * then reported by the caller and ignored, and the map stays consistent.
 */
#ifndef KERNEL_RUNMAP_H
#define KERNEL_RUNMAP_H

#include <stddef.h>
#include <stdint.h>

/* Words of a bitmap of n pages. */
#define RUNMAP_WORDS(n) (((n) + 63) / 64)

struct runmap {
    uint64_t *used; /* RUNMAP_WORDS(size) words each, zeroed */
    uint64_t *head;
    size_t size;    /* pages */
};

/* Why giving back a run does not match one (runmap_check). */
enum runmap_fault {
    RUNMAP_MATCH,     /* it matches a run exactly */
    RUNMAP_FREE,      /* its first page is not in a run (given back twice?) */
    RUNMAP_NOT_HEAD,  /* its first page is not the start of a run */
    RUNMAP_TOO_LONG,  /* it reaches past the run */
    RUNMAP_TOO_SHORT, /* the run goes on after it */
};

/* The first page of n free pages in a row, now a run; m->size if there is
 * no such stretch. n > 0. */
size_t runmap_alloc(struct runmap *m, size_t n);
/* Does [first, first + n) match a run? first + n <= m->size, n > 0. */
enum runmap_fault runmap_check(const struct runmap *m, size_t first, size_t n);
/* Give back the run [first, first + n) (runmap_check said RUNMAP_MATCH). */
void runmap_free(struct runmap *m, size_t first, size_t n);

#endif
