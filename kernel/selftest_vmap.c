/*
 * Self-test of vmap (vmap.c, arch/<arch>/vmap.c): DMA pages that are physically
 * scattered, and mapped out of order, must read back at one contiguous
 * virtual range; virt_to_phys must give each page's own address; unmapping
 * must really drop the translation (a remap at the same address sees the
 * new pages, not stale TLB entries).
 */
#include "kernel.h"

#define NPAGES 8               /* pages mapped */
#define NALLOC (2 * NPAGES)    /* pages allocated, every other one kept */
#define WORDS (PAGE_SIZE / sizeof(uint64_t))
#define BIG 100                /* > the per-page TLB flush limit in arch/<arch>/vmap.c */

static unsigned failed;

__attribute__((format(printf, 2, 3))) static bool check(bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return true;
    failed++;
    kprintf("levitate: vmap check failed: ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    return false;
}

/* The word w of a page, tagged with the page's physical address. */
static uint64_t pattern(uint64_t phys, size_t w, uint64_t salt)
{
    return ((0x766d6170ULL << 32) ^ phys ^ salt) + w * 0x9e3779b97f4a7c15ULL;
}

static void fill(uint64_t phys, uint64_t salt)
{
    uint64_t *p = phys_to_virt(phys);

    for (size_t w = 0; w < WORDS; w++)
        p[w] = pattern(phys, w, salt);
}

/* Page k of the mapping at v must hold phys[k]'s pattern, and translate back
 * to phys[k] + offset. Every word of each page, or, for the big mappings of
 * the same 8 pages over and over (step > 1), every step-th word and the
 * last: a wrong page shows in its first word, and under an emulator every
 * load costs. */
static void verify_step(const char *what, const uint8_t *v, const uint64_t *phys, size_t n,
                        uint64_t salt, size_t step)
{
    static const uint64_t offsets[] = { 0, 1, 8, 0x7ff, 0x800, PAGE_SIZE - 1 };

    for (size_t k = 0; k < n; k++) {
        const volatile uint64_t *p = (const volatile uint64_t *)(v + k * PAGE_SIZE);
        size_t bad = 0, first_bad = 0;

        for (size_t w = 0; w < WORDS; w++) {
            if (w % step && w != WORDS - 1)
                continue;
            if (p[w] != pattern(phys[k], w, salt) && bad++ == 0)
                first_bad = w;
        }
        check(bad == 0, "%s: page %zu (phys 0x%llx) via %p: %zu words wrong, first at "
              "+0x%zx: 0x%llx", what, k, (unsigned long long)phys[k], (const void *)p, bad,
              first_bad * 8, (unsigned long long)p[first_bad]);
        for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
            const uint8_t *a = v + k * PAGE_SIZE + offsets[i];
            uint64_t got = virt_to_phys(a);

            check(got == phys[k] + offsets[i], "%s: virt_to_phys(%p) = 0x%llx, want 0x%llx",
                  what, (const void *)a, (unsigned long long)got,
                  (unsigned long long)(phys[k] + offsets[i]));
        }
    }
}

static void verify(const char *what, const uint8_t *v, const uint64_t *phys, size_t n,
                   uint64_t salt)
{
    verify_step(what, v, phys, n, salt, 1);
}

unsigned vmap_selftest(void)
{
    /* Mapping order: a permutation, so virtual order != physical order. */
    static const unsigned order[NPAGES] = { 5, 2, 7, 0, 3, 6, 1, 4 };
    void *lin[NALLOC];
    uint64_t pa[NALLOC], keep[NPAGES], phys[NPAGES], other[NPAGES], *aliases;
    size_t dma_before = dma_pages_in_use(), vmap_before = vmap_pages_in_use();
    size_t nalias = (size_t)(VMAP_SIZE / PAGE_SIZE);
    size_t alias_pages = (nalias * sizeof(uint64_t) + PAGE_SIZE - 1) / PAGE_SIZE;
    uint8_t *v, *v2, *v3, *big;
    uint64_t got;
    bool scattered = true;

    failed = 0;
    for (size_t i = 0; i < NALLOC; i++) {
        lin[i] = dma_alloc_pages(1, &pa[i]);
        if (!check(lin[i] != NULL, "dma_alloc_pages(1) #%zu failed", i)) {
            while (i--)
                dma_free_pages(lin[i], 1);
            return failed;
        }
    }
    /* Keep the odd ones: then no two kept pages are adjacent. */
    for (size_t i = 0; i < NALLOC; i++) {
        if (i % 2)
            keep[i / 2] = pa[i];
        else
            dma_free_pages(lin[i], 1);
    }
    for (size_t k = 0; k < NPAGES; k++) {
        phys[k] = keep[order[k]];
        other[k] = keep[order[NPAGES - 1 - k]];
        fill(phys[k], 0);
    }
    for (size_t k = 0; k + 1 < NPAGES; k++)
        scattered = scattered && phys[k + 1] != phys[k] + PAGE_SIZE;
    check(scattered, "the test pages are physically contiguous; the test proves nothing");

    /* Bad arguments, and a range that cannot fit: NULL, silently. */
    /* Just below RAM: devices or firmware on every machine here (aarch64's
     * PCIe window, riscv64's, x86's BIOS area). */
    uint64_t unaligned = phys[0] + 8, device = ram_phys_start() - PAGE_SIZE,
             beyond = ram_phys_end();

    check(vmap(phys, 0) == NULL, "vmap(n = 0) mapped");
    check(vmap(NULL, 1) == NULL, "vmap(NULL) mapped");
    check(vmap(&unaligned, 1) == NULL, "vmap of an unaligned address mapped");
    check(vmap(&device, 1) == NULL, "vmap of device memory mapped");
    check(vmap(&beyond, 1) == NULL, "vmap past the end of RAM mapped");

    /* Map, read through the mapping, translate back. */
    v = vmap(phys, NPAGES);
    if (!check(v != NULL, "vmap of %d scattered pages failed", NPAGES))
        goto out_free;
    check((uintptr_t)v % PAGE_SIZE == 0 && (uintptr_t)v >= VMAP_BASE &&
          (uintptr_t)v + NPAGES * PAGE_SIZE <= VMAP_BASE + VMAP_SIZE,
          "vmap returned %p, not page aligned in the window", (void *)v);
    check(vmap_pages_in_use() == vmap_before + NPAGES, "vmap_pages_in_use %zu, want %zu",
          vmap_pages_in_use(), vmap_before + NPAGES);
    verify("first mapping", v, phys, NPAGES, 0);

    /* Writes through the mapping are seen through the linear map, also a
     * copy that straddles every page boundary. */
    for (size_t k = 0; k + 1 < NPAGES; k++) {
        static const char msg[] = "straddles a page boundary";
        uint8_t *at = v + (k + 1) * PAGE_SIZE - 10;
        const char *lo = (const char *)phys_to_virt(phys[k]) + PAGE_SIZE - 10;
        const char *hi = phys_to_virt(phys[k + 1]);

        memcpy(at, msg, sizeof(msg));
        check(memcmp(lo, msg, 10) == 0 && memcmp(hi, msg + 10, sizeof(msg) - 10) == 0,
              "write across pages %zu/%zu through %p not in phys 0x%llx/0x%llx", k, k + 1,
              (void *)at, (unsigned long long)phys[k], (unsigned long long)phys[k + 1]);
    }
    for (size_t k = 0; k < NPAGES; k++)
        fill(phys[k], 0); /* undo the copies */

    /* A second mapping, of some of the same pages (aliases are fine), goes
     * elsewhere, past the first one's guard page. */
    v2 = vmap(other, NPAGES / 2);
    if (check(v2 != NULL, "second vmap failed")) {
        check(v2 >= v + (NPAGES + 1) * PAGE_SIZE || v2 + (NPAGES / 2 + 1) * PAGE_SIZE <= v,
              "second mapping %p overlaps the first %p or its guard", (void *)v2, (void *)v);
        verify("second mapping", v2, other, NPAGES / 2, 0);
    }
    check(vmap_lookup(v + NPAGES * PAGE_SIZE, &got) && got == PHYS_INVALID,
          "the guard page after the mapping is mapped (0x%llx)", (unsigned long long)got);
    unsigned warned = warnings_suppressed;
    warnings_muted = true; /* the next two calls must each warn */
    got = virt_to_phys(v + NPAGES * PAGE_SIZE + 16);
    vunmap(v, NPAGES - 1); /* wrong count: refused */
    warnings_muted = false;
    check(got == PHYS_INVALID, "virt_to_phys(guard page) = 0x%llx", (unsigned long long)got);
    check(warnings_suppressed - warned == 2, "%u warnings for a guard-page lookup and a bad vunmap, want 2",
          warnings_suppressed - warned);
    check(virt_to_phys(v) == phys[0], "a refused vunmap unmapped");

    /* Many pages: the window can't hold all of it with others mapped; 100
     * fit, and their unmap takes the flush-everything path. */
    aliases = dma_alloc_pages(alias_pages, NULL);
    if (check(aliases != NULL, "dma_alloc_pages(%zu) failed", alias_pages)) {
        for (size_t i = 0; i < nalias; i++)
            aliases[i] = phys[i % NPAGES];
        check(vmap(aliases, nalias - 1) == NULL, "vmap of the whole window mapped");
        big = vmap(aliases, BIG);
        if (check(big != NULL, "vmap of %d pages failed", BIG)) {
            verify_step("big mapping", big, aliases, BIG, 0, 61);
            vunmap(big, BIG);
            check(vmap_lookup(big, &got) && got == PHYS_INVALID &&
                  vmap_lookup(big + (BIG - 1) * PAGE_SIZE, &got) && got == PHYS_INVALID,
                  "big mapping still in the tables after vunmap");
            /* Same address again, every page shifted by one. */
            v3 = vmap(aliases + 1, BIG);
            if (check(v3 == big, "big remap at %p, want the freed %p", (void *)v3, (void *)big))
                verify_step("big remap", v3, aliases + 1, BIG, 0, 61);
            vunmap(v3, BIG);
        }
        dma_free_pages(aliases, alias_pages);
    }

    /* Unmap, then map the same pages in another order: first fit puts them
     * at the same address, where a stale TLB entry (the reads just before
     * loaded them) would still show the old order. */
    for (size_t k = 0; k < NPAGES; k++)
        fill(phys[k], 0x5a17);
    verify("before remap", v, phys, NPAGES, 0x5a17);
    vunmap(v, NPAGES);
    v3 = vmap(other, NPAGES);
    if (check(v3 == v, "remap after vunmap at %p, want the freed %p", (void *)v3, (void *)v)) {
        verify("remap", v3, other, NPAGES, 0x5a17);
    }
    vunmap(v3, NPAGES);
    vunmap(v2, NPAGES / 2);
    for (size_t k = 0; k < NPAGES; k++) {
        check(vmap_lookup(v + k * PAGE_SIZE, &got) && got == PHYS_INVALID,
              "page %zu still mapped after vunmap (0x%llx)", k, (unsigned long long)got);
    }
    check(vmap_pages_in_use() == vmap_before, "vmap_pages_in_use %zu after vunmap, want %zu",
          vmap_pages_in_use(), vmap_before);

out_free:
    for (size_t i = 1; i < NALLOC; i += 2)
        dma_free_pages(lin[i], 1);
    check(dma_pages_in_use() == dma_before, "dma_pages_in_use %zu after, want %zu",
          dma_pages_in_use(), dma_before);
    if (failed)
        kprintf("levitate: vmap selftest: %u checks failed, window %p + %llu MiB\n", failed,
                (void *)(uintptr_t)VMAP_BASE, (unsigned long long)(VMAP_SIZE >> 20));
    return failed;
}
