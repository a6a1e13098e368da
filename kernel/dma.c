/*
 * DMA pages: a first-fit bitmap allocator over one physically contiguous
 * range of free RAM, chosen by kernel_start (not the image, not the DTB).
 * Pages are handed out through the cacheable linear map; QEMU's devices are
 * cache coherent, so no cache maintenance is needed.
 *
 * Two bitmaps: `used` marks allocated pages, `head` the first page of each
 * allocation, so that a free can be checked to match an allocation exactly.
 * A bad free is reported and ignored: the test that made it fails visibly,
 * and the allocator stays consistent.
 */
#include "internal.h"

#define DMA_MAX_PAGES 16384 /* 64 MiB */
#define WORD_BITS 64

static uint64_t used[DMA_MAX_PAGES / WORD_BITS];
static uint64_t head[DMA_MAX_PAGES / WORD_BITS];
static uint64_t pool_phys;
static size_t pool_pages;
static size_t in_use;

/* Freed pages are filled with this, so a read after free looks wrong. */
#define POISON 0xd5

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

void dma_init(uint64_t start, uint64_t end)
{
    start = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    end &= ~(PAGE_SIZE - 1);
    pool_phys = start;
    pool_pages = end > start ? (size_t)((end - start) / PAGE_SIZE) : 0;
    if (pool_pages > DMA_MAX_PAGES)
        pool_pages = DMA_MAX_PAGES;
}

/* First index of n free pages in a row, or pool_pages if there is none. */
static size_t find_free(size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < pool_pages; i++) {
        run = test(used, i) ? 0 : run + 1;
        if (run == n)
            return i + 1 - n;
    }
    return pool_pages;
}

void *dma_alloc_pages(size_t n, uint64_t *phys_out)
{
    size_t first;
    void *virt;

    if (n == 0 || n > pool_pages)
        return NULL;
    first = find_free(n);
    if (first == pool_pages)
        return NULL;
    for (size_t i = first; i < first + n; i++)
        set(used, i, true);
    set(head, first, true);
    in_use += n;

    uint64_t phys = pool_phys + first * PAGE_SIZE;

    virt = phys_to_virt(phys);
    memset(virt, 0, n * PAGE_SIZE);
    if (phys_out)
        *phys_out = phys;
    return virt;
}

/* Why a free of pages [first, first + n) does not match an allocation. */
static const char *bad_free(size_t first, size_t n)
{
    if (!test(used, first))
        return "not allocated (double free?)";
    if (!test(head, first))
        return "not the start of an allocation";
    for (size_t i = first; i < first + n; i++) {
        if (!test(used, i) || (i > first && test(head, i)))
            return "page count larger than the allocation";
    }
    if (first + n < pool_pages && test(used, first + n) && !test(head, first + n))
        return "page count smaller than the allocation";
    return NULL;
}

void dma_free_pages(void *virt, size_t n)
{
    uint64_t va = (uintptr_t)virt, pa = va - LINEAR_BASE;
    const char *why = NULL;
    size_t first = 0;

    if (va < LINEAR_BASE || va >= KERNEL_VBASE || pa < pool_phys ||
        pa >= pool_phys + pool_pages * PAGE_SIZE || pa % PAGE_SIZE)
        why = "not a DMA page pointer";
    else if (n == 0 || (first = (size_t)((pa - pool_phys) / PAGE_SIZE)) + n > pool_pages)
        why = "bad page count";
    else
        why = bad_free(first, n);
    if (why) {
        kprintf("levitate: warning: dma_free_pages(%p, %zu): %s; ignored\n",
                virt, n, why);
        return;
    }
    for (size_t i = first; i < first + n; i++)
        set(used, i, false);
    set(head, first, false);
    in_use -= n;
    memset(virt, POISON, n * PAGE_SIZE);
}

size_t dma_pages_in_use(void)
{
    return in_use;
}

size_t dma_pages_total(void)
{
    return pool_pages;
}

uint64_t dma_pool_phys(void)
{
    return pool_phys;
}

uint64_t dma_pool_phys_end(void)
{
    return pool_phys + pool_pages * PAGE_SIZE;
}
