/*
 * DMA pages: a first-fit bitmap allocator over one physically contiguous
 * range of free RAM, chosen by kernel_start (not the image, not the DTB).
 * Pages are handed out through the cacheable linear map; QEMU's devices are
 * cache coherent, so no cache maintenance is needed.
 *
 * The pages are runs of a runmap (runmap.h), so that a free can be checked
 * to match an allocation exactly. A bad free is reported and ignored: the
 * test that made it fails visibly, and the allocator stays consistent.
 */
#include "internal.h"
#include "runmap.h"

#define DMA_MAX_PAGES 16384 /* 64 MiB */

static uint64_t used[RUNMAP_WORDS(DMA_MAX_PAGES)];
static uint64_t head[RUNMAP_WORDS(DMA_MAX_PAGES)];
static struct runmap pool = {used, head, 0}; /* .size: the pool's pages */
static uint64_t pool_phys;
static size_t in_use;

/* Freed pages are filled with this, so a read after free looks wrong. */
#define POISON 0xd5

void dma_init(uint64_t start, uint64_t end)
{
    start = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    end &= ~(PAGE_SIZE - 1);
    pool_phys = start;
    pool.size = end > start ? (size_t)((end - start) / PAGE_SIZE) : 0;
    if (pool.size > DMA_MAX_PAGES)
        pool.size = DMA_MAX_PAGES;
}

void *dma_alloc_pages(size_t n, uint64_t *phys_out)
{
    void *virt = dma_alloc_pages_unzeroed(n, phys_out);

    if (virt)
        memset(virt, 0, n * PAGE_SIZE);
    return virt;
}

void *dma_alloc_pages_unzeroed(size_t n, uint64_t *phys_out)
{
    size_t first;
    void *virt;

    if (n == 0 || n > pool.size)
        return NULL;
    first = runmap_alloc(&pool, n);
    if (first == pool.size)
        return NULL;
    in_use += n;

    uint64_t phys = pool_phys + first * PAGE_SIZE;

    virt = phys_to_virt(phys);
    if (phys_out)
        *phys_out = phys;
    return virt;
}

/* Why a free of pages [first, first + n) does not match an allocation. */
static const char *bad_free(size_t first, size_t n)
{
    static const char *const why[] = {
        [RUNMAP_FREE] = "not allocated (double free?)",
        [RUNMAP_NOT_HEAD] = "not the start of an allocation",
        [RUNMAP_TOO_LONG] = "page count larger than the allocation",
        [RUNMAP_TOO_SHORT] = "page count smaller than the allocation",
    };

    return why[runmap_check(&pool, first, n)];
}

void dma_free_pages(void *virt, size_t n)
{
    uint64_t va = (uintptr_t)virt, pa = va - LINEAR_BASE;
    const char *why = NULL;
    size_t first = 0;

    if (va < LINEAR_BASE || va >= KERNEL_VBASE || pa < pool_phys ||
        pa >= pool_phys + pool.size * PAGE_SIZE || pa % PAGE_SIZE)
        why = "not a DMA page pointer";
    else if (n == 0 || (first = (size_t)((pa - pool_phys) / PAGE_SIZE)) + n > pool.size)
        why = "bad page count";
    else
        why = bad_free(first, n);
    if (why) {
        kprintf("levitate: warning: dma_free_pages(%p, %zu): %s; ignored\n",
                virt, n, why);
        return;
    }
    runmap_free(&pool, first, n);
    in_use -= n;
    memset(virt, POISON, n * PAGE_SIZE);
}

size_t dma_pages_in_use(void)
{
    return in_use;
}

size_t dma_pages_total(void)
{
    return pool.size;
}

uint64_t dma_pool_phys(void)
{
    return pool_phys;
}

uint64_t dma_pool_phys_end(void)
{
    return pool_phys + pool.size * PAGE_SIZE;
}
