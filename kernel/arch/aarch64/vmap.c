/*
 * vmap: physically scattered RAM pages at one contiguous kernel virtual
 * range, so that a buffer the CPU sees as contiguous can be scattered for
 * the device (the linear map only ever gives physically contiguous ones).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) is mapped by
 * static tables in .bss: one L1 table hooked into TTBR1's L0 table, one L2
 * table, and VMAP_SIZE / 2 MiB L3 tables, laid out back to back so that
 * l3[i] is the descriptor of window page i. vmap_init builds the L1 -> L2 ->
 * L3 part once; after that only L3 entries change.
 *
 * Window pages are handed out first fit from two bitmaps, as in dma.c:
 * `used` marks pages that belong to a mapping, `head` the first page of
 * each, so vunmap can check it matches a vmap exactly. Every mapping takes
 * one extra page at its end that is never mapped, a guard: an overrun off
 * one mapping (or an underrun off the next) faults instead of landing in
 * another buffer. The window's first page follows unmapped L0 space, so the
 * first mapping is guarded below too.
 *
 * Barriers: the walker reads the tables through the cache (TCR_EL1 walks
 * are inner write-back, inner shareable), so a store plus DSB ISHST makes a
 * descriptor visible to it; an ISB then lets the next instruction use a new
 * mapping. An invalid descriptor is never cached in the TLB, so mapping
 * needs no TLBI; unmapping invalidates each page (or everything, for a big
 * range) before the window pages may be handed out again.
 */
#include "internal.h"
#include "sysreg.h"

#define VMAP_PAGES (VMAP_SIZE / PAGE_SIZE)
#define VMAP_L3_TABLES (VMAP_SIZE / BLOCK_2M)
#define WORD_BITS 64
/* Unmapping more pages than this invalidates the whole TLB instead. */
#define TLBI_PAGES_MAX 64

#define L0_INDEX(va) (((va) >> 39) & (PT_ENTRIES - 1))
#define L1_INDEX(va) (((va) >> 30) & (PT_ENTRIES - 1))
#define L2_INDEX(va) (((va) >> 21) & (PT_ENTRIES - 1))

_Static_assert(VMAP_BASE >= LINEAR_BASE, "vmap window must be in the TTBR1 half");
_Static_assert(VMAP_BASE % BLOCK_1G == 0, "vmap window must start on 1 GiB");
_Static_assert(VMAP_SIZE % BLOCK_2M == 0 && VMAP_SIZE > 0 && VMAP_SIZE <= BLOCK_1G,
               "vmap window must be whole 2 MiB blocks, within one L2 table");
_Static_assert(VMAP_PAGES % WORD_BITS == 0, "bitmap words");

static uint64_t vmap_l1[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_l2[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_l3[VMAP_L3_TABLES * PT_ENTRIES] __attribute__((aligned(4096)));

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

static uint64_t table_desc(const void *table)
{
    uint64_t pa = virt_to_phys(table);

    if (pa == PHYS_INVALID || pa % PAGE_SIZE)
        panic("vmap: table %p has no usable physical address", table);
    return pa | PTE_TABLE;
}

void vmap_init(void)
{
    /* TTBR1_EL1 holds the L0 table's physical address (bits 47:12 here:
     * the table is page aligned, ASID and CnP are not ours); boot.S put it
     * in the image, which is RAM, so the linear map reaches it. */
    uint64_t l0_phys = read_sysreg(ttbr1_el1) & PTE_ADDR_MASK;
    uint64_t *l0 = phys_to_virt(l0_phys);

    if (!l0)
        panic("vmap: TTBR1 L0 table 0x%llx not in the linear map",
              (unsigned long long)l0_phys);
    if (l0[L0_INDEX(VMAP_BASE)] != 0)
        panic("vmap: L0[%llu] for the window 0x%llx is already in use",
              (unsigned long long)L0_INDEX(VMAP_BASE), (unsigned long long)VMAP_BASE);

    for (size_t t = 0; t < VMAP_L3_TABLES; t++)
        vmap_l2[L2_INDEX(VMAP_BASE) + t] = table_desc(&vmap_l3[t * PT_ENTRIES]);
    vmap_l1[L1_INDEX(VMAP_BASE)] = table_desc(vmap_l2);
    /* The lower tables are complete and visible before the L0 entry that
     * makes them reachable. */
    __asm__ volatile("dsb ishst" ::: "memory");
    l0[L0_INDEX(VMAP_BASE)] = table_desc(vmap_l1);
    /* The slot was invalid, so nothing stale can be cached; the full flush
     * is only belt and braces, once at boot. */
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
        vmap_l3[first + i] = phys[i] | PTE_VMAP;
    /* vmap_l3[first + n] stays 0: the guard. */
    __asm__ volatile("dsb ishst\n\tisb" ::: "memory");
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
    if (vmap_l3[first + n] != 0)
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
        vmap_l3[i] = 0;
    if (n > TLBI_PAGES_MAX) {
        tlb_flush_all();
    } else {
        __asm__ volatile("dsb ishst" ::: "memory");
        for (size_t i = 0; i < n; i++) {
            /* VAALE1IS: last level, any ASID (the mapping is global);
             * operand bits 43:0 = VA[55:12]. */
            uint64_t op = ((va + i * PAGE_SIZE) >> PAGE_SHIFT) & ((1ULL << 44) - 1);

            __asm__ volatile("tlbi vaale1is, %0" : : "r"(op) : "memory");
        }
        __asm__ volatile("dsb ish\n\tisb" ::: "memory");
    }
    for (size_t i = first; i < first + n + 1; i++)
        set(used, i, false);
    set(head, first, false);
}

bool vmap_lookup(const void *virt, uint64_t *phys)
{
    uint64_t va = (uintptr_t)virt, pte;

    if (va < VMAP_BASE || va - VMAP_BASE >= VMAP_SIZE)
        return false;
    pte = vmap_l3[(va - VMAP_BASE) >> PAGE_SHIFT];
    *phys = (pte & 3) == PTE_PAGE ? (pte & PTE_ADDR_MASK) | (va & (PAGE_SIZE - 1))
                                  : PHYS_INVALID;
    return true;
}

size_t vmap_pages_in_use(void)
{
    size_t n = 0;

    for (size_t i = 0; i < VMAP_PAGES; i++)
        n += (vmap_l3[i] & 3) == PTE_PAGE;
    return n;
}
