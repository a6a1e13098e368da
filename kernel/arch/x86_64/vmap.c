/*
 * vmap: physically scattered RAM pages at one contiguous kernel virtual
 * range, so that a buffer the CPU sees as contiguous can be scattered for
 * the device (the linear map only ever gives physically contiguous ones).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) hangs off PML4
 * entry PML4_VMAP: one PDPT, one PD (2 MiB per entry) and VMAP_SIZE / 2 MiB
 * page tables, static in .bss and back to back, so that leaf[i] is the
 * entry of window page i. vmap_init links them once; after that only leaf
 * entries change.
 *
 * Window pages are handed out first fit from two bitmaps, as in dma.c:
 * `used` marks pages that belong to a mapping, `head` the first page of
 * each, so vunmap can check it matches a vmap exactly. Every mapping takes
 * one extra page at its end that is never mapped, a guard: an overrun off
 * one mapping (or an underrun off the next) faults instead of landing in
 * another buffer. The window's first page follows unmapped address space,
 * so the first mapping is guarded below too.
 *
 * Ordering: x86 walks the tables through the caches, so a new entry is
 * seen at once; but a translation may be cached, so vunmap invalidates
 * each page (invlpg; everything, by reloading CR3, for a big range), and
 * so does vmap, for the failed walks an overrun may have left.
 */
#include "internal.h"
#include "x86.h"

#define VMAP_PAGES (VMAP_SIZE / PAGE_SIZE)
#define VMAP_LEAF_TABLES (VMAP_SIZE / BLOCK_2M)
#define WORD_BITS 64
/* Fencing more pages than this fences everything instead. */
#define FENCE_PAGES_MAX 64

#define PML4_INDEX(va) (((va) >> 39) & (PT_ENTRIES - 1))
#define PDPT_INDEX(va) (((va) >> 30) & (PT_ENTRIES - 1))
#define MID_INDEX(va) (((va) >> 21) & (PT_ENTRIES - 1))

_Static_assert(PML4_INDEX(VMAP_BASE) == PML4_VMAP, "vmap window must be PML4 entry PML4_VMAP");
_Static_assert(VMAP_BASE % BLOCK_1G == 0, "vmap window must start on 1 GiB");
_Static_assert(VMAP_SIZE % BLOCK_2M == 0 && VMAP_SIZE > 0 && VMAP_SIZE <= BLOCK_1G,
               "vmap window must be whole 2 MiB blocks, within one middle table");
_Static_assert(VMAP_PAGES % WORD_BITS == 0, "bitmap words");

extern uint64_t pml4[PT_ENTRIES];

static uint64_t vmap_pdpt[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_mid[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_leaf[VMAP_LEAF_TABLES * PT_ENTRIES] __attribute__((aligned(4096)));

static uint64_t used[VMAP_PAGES / WORD_BITS];
static uint64_t head[VMAP_PAGES / WORD_BITS];
static bool ready;

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

static uint64_t table_pte(const void *table)
{
    uint64_t pa = virt_to_phys(table);

    if (pa == PHYS_INVALID || pa % PAGE_SIZE)
        panic("vmap: table %p has no usable physical address", table);
    return pa | PTE_TABLE;
}

void vmap_init(void)
{
    if (pml4[PML4_VMAP] != 0)
        panic("vmap: PML4 entry %u for the window 0x%llx is already in use", PML4_VMAP,
              (unsigned long long)VMAP_BASE);
    for (size_t t = 0; t < VMAP_LEAF_TABLES; t++)
        vmap_mid[MID_INDEX(VMAP_BASE) + t] = table_pte(&vmap_leaf[t * PT_ENTRIES]);
    vmap_pdpt[PDPT_INDEX(VMAP_BASE)] = table_pte(vmap_mid);
    pml4[PML4_VMAP] = table_pte(vmap_pdpt);
    tlb_flush_all();
    ready = true;
}

/* First window page of n free pages in a row, or VMAP_PAGES. */
static size_t find_free(size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < VMAP_PAGES; i++) {
        run = test(used, i) ? 0 : run + 1;
        if (run == n)
            return i + 1 - n;
    }
    return VMAP_PAGES;
}

static bool ram_page(uint64_t pa)
{
    uint64_t lo = ram_phys_start(), hi = ram_phys_end();

    return pa % PAGE_SIZE == 0 && pa >= lo && pa < hi && hi - pa >= PAGE_SIZE;
}

/* Make entries [first, first + n) of the window count. */
static void fence_pages(size_t first, size_t n)
{
    if (n > FENCE_PAGES_MAX) {
        tlb_flush_all();
        return;
    }
    for (size_t i = first; i < first + n; i++)
        invlpg((uintptr_t)(VMAP_BASE + i * PAGE_SIZE));
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
    first = find_free(n + 1); /* + the guard page */
    if (first == VMAP_PAGES)
        return NULL;
    for (size_t i = first; i < first + n + 1; i++)
        set(used, i, true);
    set(head, first, true);
    for (size_t i = 0; i < n; i++)
        vmap_leaf[first + i] = phys[i] | PTE_DATA;
    /* vmap_leaf[first + n] stays 0: the guard. */
    fence_pages(first, n);
    return (void *)(uintptr_t)(VMAP_BASE + first * PAGE_SIZE);
}

/* Why unmapping window pages [first, first + n) does not match a vmap. */
static const char *bad_unmap(size_t first, size_t n)
{
    size_t end = first + n + 1; /* just past the guard */

    if (!test(used, first))
        return "not mapped (double vunmap?)";
    if (!test(head, first))
        return "not the start of a mapping";
    for (size_t i = first; i < end; i++) {
        if (!test(used, i) || (i > first && test(head, i)))
            return "page count larger than the mapping";
    }
    if (end < VMAP_PAGES && test(used, end) && !test(head, end))
        return "page count smaller than the mapping";
    if (vmap_leaf[first + n] != 0)
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
        vmap_leaf[i] = 0;
    fence_pages(first, n);
    for (size_t i = first; i < first + n + 1; i++)
        set(used, i, false);
    set(head, first, false);
}

bool vmap_lookup(const void *virt, uint64_t *phys)
{
    uint64_t va = (uintptr_t)virt, pte;

    if (va < VMAP_BASE || va - VMAP_BASE >= VMAP_SIZE)
        return false;
    pte = vmap_leaf[(va - VMAP_BASE) >> PAGE_SHIFT];
    *phys = (pte & PTE_P) ? (pte & PTE_ADDR_MASK) | (va & (PAGE_SIZE - 1)) : PHYS_INVALID;
    return true;
}

size_t vmap_pages_in_use(void)
{
    size_t n = 0;

    for (size_t i = 0; i < VMAP_PAGES; i++)
        n += (vmap_leaf[i] & PTE_P) != 0;
    return n;
}
