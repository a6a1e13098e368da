/*
 * vmap: physically scattered RAM pages at one contiguous kernel virtual
 * range, so that a buffer the CPU sees as contiguous can be scattered for
 * the device (the linear map only ever gives physically contiguous ones).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) is VMAP_PAGES
 * pages; the architecture's page tables map each of them on its own
 * (arch/<arch>/vmap.c: arch_vmap_* in internal.h).
 *
 * Window pages are handed out first fit as runs of a runmap (runmap.h), as
 * in dma.c, so vunmap can check it matches a vmap exactly. Every mapping
 * takes one extra page at its end that is never mapped, a guard: an overrun
 * off one mapping (or an underrun off the next) faults instead of landing
 * in another buffer. The window's first page follows unmapped address
 * space, so the first mapping is guarded below too.
 */
#include "internal.h"
#include "runmap.h"

#define VMAP_PAGES (VMAP_SIZE / PAGE_SIZE)

static uint64_t used[RUNMAP_WORDS(VMAP_PAGES)];
static uint64_t head[RUNMAP_WORDS(VMAP_PAGES)];
static struct runmap window = {used, head, VMAP_PAGES};
static bool ready;

uint64_t vmap_table_phys(const void *table)
{
    uint64_t pa = virt_to_phys(table);

    if (pa == PHYS_INVALID || pa % PAGE_SIZE)
        panic("vmap: table %p has no usable physical address", table);
    return pa;
}

void vmap_init(void)
{
    arch_vmap_init();
    ready = true;
}

static bool ram_page(uint64_t pa)
{
    uint64_t lo = ram_phys_start(), hi = ram_phys_end();

    return pa % PAGE_SIZE == 0 && pa >= lo && pa < hi && hi - pa >= PAGE_SIZE;
}

void *vmap(const uint64_t *phys, size_t n)
{
    size_t first;

    if (!ready || !phys || n == 0 || n > VMAP_PAGES - 1)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!ram_page(phys[i]))
            return NULL;
    }
    first = runmap_alloc(&window, n + 1); /* + the guard page */
    if (first == VMAP_PAGES)
        return NULL;
    for (size_t i = 0; i < n; i++)
        arch_vmap_map_page(first + i, phys[i]);
    /* Page first + n stays unmapped: the guard. */
    arch_vmap_flush(first, n, false);
    return (void *)(uintptr_t)(VMAP_BASE + first * PAGE_SIZE);
}

/* Why unmapping window pages [first, first + n) does not match a vmap. */
static const char *bad_unmap(size_t first, size_t n)
{
    static const char *const why[] = {
        [RUNMAP_FREE] = "not mapped (double vunmap?)",
        [RUNMAP_NOT_HEAD] = "not the start of a mapping",
        [RUNMAP_TOO_LONG] = "page count larger than the mapping",
        [RUNMAP_TOO_SHORT] = "page count smaller than the mapping",
    };
    enum runmap_fault fault = runmap_check(&window, first, n + 1); /* + the guard */

    if (fault != RUNMAP_MATCH)
        return why[fault];
    if (arch_vmap_phys(first + n) != PHYS_INVALID)
        return "page count smaller than the mapping (no guard there)";
    return NULL;
}

void vunmap(void *virt, size_t n)
{
    uint64_t va = (uintptr_t)virt;
    const char *why = NULL;
    size_t first = 0;

    if (!virt)
        return;
    if (va < VMAP_BASE || va >= VMAP_BASE + VMAP_SIZE || va % PAGE_SIZE)
        why = "not a vmap address";
    else if (n == 0 || n > VMAP_PAGES - 1 ||
             (first = (size_t)((va - VMAP_BASE) / PAGE_SIZE)) + n + 1 > VMAP_PAGES)
        why = "bad page count";
    else
        why = bad_unmap(first, n);
    if (why) {
        if (warnings_muted)
            warnings_suppressed++;
        else
            kprintf("levitate: warning: vunmap(%p, %zu): %s; ignored\n", virt, n, why);
        return;
    }

    for (size_t i = first; i < first + n; i++)
        arch_vmap_unmap_page(i);
    arch_vmap_flush(first, n, true);
    runmap_free(&window, first, n + 1);
}

bool vmap_lookup(const void *virt, uint64_t *phys)
{
    uint64_t va = (uintptr_t)virt, pa;

    if (va < VMAP_BASE || va - VMAP_BASE >= VMAP_SIZE)
        return false;
    pa = arch_vmap_phys((size_t)((va - VMAP_BASE) >> PAGE_SHIFT));
    *phys = pa != PHYS_INVALID ? pa | (va & (PAGE_SIZE - 1)) : PHYS_INVALID;
    return true;
}

size_t vmap_pages_in_use(void)
{
    size_t n = 0;

    for (size_t i = 0; i < VMAP_PAGES; i++)
        n += arch_vmap_phys(i) != PHYS_INVALID;
    return n;
}
