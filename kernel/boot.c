/*
 * The architecture-neutral part of booting, for each architecture's
 * kernel_start (arch/<arch>/start.c): the first steps and the last, the
 * device tree, the bootargs, RAM and the DMA pool; the stack canary.
 */
#include "internal.h"
#include "fdt.h"

#define DTB_MAX_SIZE (2ULL << 20)    /* the largest blob read (arm64's limit) */
#define DMA_POOL_MAX (64ULL << 20)
#define MAX_BUSY 12                  /* image, DTB, memory reservations, reserved-memory */

/* Used only when there is no usable DTB: RAM_FALLBACK_START (layout.h),
 * at least 128 MiB. */
#define RAM_FALLBACK_SIZE (128ULL << 20)

#define STACK_CANARY 0x5ca1ab1e0ddba11ULL
#define CANARY_WORDS 8

extern uint64_t boot_stack_bottom[];

struct range {
    uint64_t start, end;
};

static struct fdt fdt;
static bool have_fdt;
static uint64_t dtb_phys;
static const char *bootargs = "";
static uint64_t ram_start = RAM_FALLBACK_START;
static uint64_t ram_end = RAM_FALLBACK_START + RAM_FALLBACK_SIZE;

const void *kernel_dtb(void) { return have_fdt ? fdt.blob : NULL; }
const struct fdt *kernel_fdt(void) { return have_fdt ? &fdt : NULL; }
uint64_t kernel_dtb_phys(void) { return have_fdt ? dtb_phys : 0; }
const char *kernel_bootargs(void) { return bootargs; }
uint64_t ram_phys_start(void) { return ram_start; }
uint64_t ram_phys_end(void) { return ram_end; }

/* Finds `key` as a whole space-separated word, or as the key of key=value;
 * returns the word's start and sets *len to the word's length. */
static const char *find_bootarg(const char *key, bool with_value, size_t *len)
{
    size_t klen = strlen(key);

    for (const char *p = bootargs; *p;) {
        size_t n = 0;

        while (*p == ' ')
            p++;
        while (p[n] && p[n] != ' ')
            n++;
        if (n >= klen && strncmp(p, key, klen) == 0 &&
            (with_value ? n > klen && p[klen] == '=' : n == klen)) {
            *len = n;
            return p;
        }
        p += n;
    }
    return NULL;
}

void boot_set_bootargs(const char *args)
{
    bootargs = args;
}

void boot_set_memory(uint64_t start, uint64_t end)
{
    ram_start = start;
    ram_end = end;
}

bool kernel_bootarg(const char *word)
{
    size_t len;

    return find_bootarg(word, false, &len) != NULL;
}

bool kernel_bootarg_value(const char *key, char *buf, size_t size)
{
    size_t len, klen = strlen(key);
    const char *p = find_bootarg(key, true, &len);

    if (!p)
        return false;
    if (size) {
        size_t n = len - klen - 1 < size - 1 ? len - klen - 1 : size - 1;

        memcpy(buf, p + klen + 1, n);
        buf[n] = '\0';
    }
    return true;
}

void boot_read_dtb(uint64_t phys)
{
    const void *blob;
    int err;

    if (phys < RAM_WINDOW_START || phys >= RAM_WINDOW_END || phys % 8) {
        kprintf("levitate: warning: no DTB from the loader (x0=0x%llx)\n",
                (unsigned long long)phys);
        return;
    }
    blob = phys_to_virt(phys);
    err = fdt_init(&fdt, blob, RAM_WINDOW_END - phys < DTB_MAX_SIZE
                                   ? RAM_WINDOW_END - phys : DTB_MAX_SIZE);
    if (err) {
        kprintf("levitate: warning: DTB at 0x%llx unusable: %s\n",
                (unsigned long long)phys, fdt_strerror(err));
        return;
    }
    have_fdt = true;
    dtb_phys = phys;

    struct fdt_node node;
    const char *args;
    if (fdt_find_path(&fdt, "/chosen", &node) == FDT_OK &&
        (args = fdt_getprop_string(&fdt, &node, "bootargs")))
        bootargs = args;
}

void boot_read_memory(void)
{
    uint64_t base, size;
    int err = fdt_memory(&fdt, &base, &size);

    if (err || size == 0 || base + size < base) {
        kprintf("levitate: warning: no /memory in the DTB (%s), assuming "
                "0x%llx..0x%llx\n", fdt_strerror(err),
                (unsigned long long)ram_start, (unsigned long long)ram_end);
        return;
    }
    ram_start = base;
    ram_end = base + size;
}

bool boot_stdout_node(const struct fdt *dt, struct fdt_node *node)
{
    char path[FDT_PATH_MAX];
    const char *out = NULL;
    size_t n = 0;

    if (fdt_find_path(dt, "/chosen", node) == FDT_OK)
        out = fdt_getprop_string(dt, node, "stdout-path");
    if (!out || out[0] != '/')
        return false;
    for (; out[n] && out[n] != ':' && n < sizeof(path) - 1; n++)
        path[n] = out[n];
    path[n] = '\0';
    return fdt_find_path(dt, path, node) == FDT_OK;
}

/* Sorts the few busy ranges by start (insertion sort: n is tiny). */
static void sort_ranges(struct range *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct range x = r[i];
        size_t j = i;

        for (; j > 0 && r[j - 1].start > x.start; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

/* The largest stretch of RAM that is not busy. */
static struct range largest_free(struct range *busy, size_t n)
{
    struct range best = { 0, 0 };
    uint64_t cur = ram_start;

    sort_ranges(busy, n);
    for (size_t i = 0; i <= n; i++) {
        uint64_t stop = i < n && busy[i].start < ram_end ? busy[i].start : ram_end;

        if (stop > cur && stop - cur > best.end - best.start)
            best = (struct range){ cur, stop };
        if (i < n && busy[i].end > cur)
            cur = busy[i].end;
    }
    return best;
}

/* The children of /reserved-memory (firmware's own RAM: OpenSBI's on
 * riscv64), added to busy[*n..MAX_BUSY). */
static void add_reserved_nodes(struct range *busy, size_t *n)
{
    static const char prefix[] = "/reserved-memory/";
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;

    fdt_walk_begin(&w, &fdt);
    while (*n < MAX_BUSY && fdt_walk_next(&w, &node) > 0) {
        if (strncmp(node.path, prefix, sizeof(prefix) - 1) != 0 || node.depth != 2)
            continue;
        for (unsigned i = 0; *n < MAX_BUSY && fdt_node_reg(&fdt, &node, i, &addr, &size) == FDT_OK; i++)
            busy[(*n)++] = (struct range){ addr, addr + size };
    }
}

static void boot_setup_dma(void)
{
    struct range busy[MAX_BUSY];
    size_t n = 0;
    uint64_t addr, size;

    busy[n++] = (struct range){ kernel_load_phys(), kernel_phys_end() };
    if (have_fdt) {
        busy[n++] = (struct range){ dtb_phys, dtb_phys + fdt.size };
        for (unsigned i = 0; n < MAX_BUSY && fdt_memreserve(&fdt, i, &addr, &size) == FDT_OK; i++)
            busy[n++] = (struct range){ addr, addr + size };
        add_reserved_nodes(busy, &n);
    }

    struct range pool = largest_free(busy, n);

    if (pool.end - pool.start > DMA_POOL_MAX)
        pool.end = pool.start + DMA_POOL_MAX;
    dma_init(pool.start, pool.end);
}

static void boot_stack_canary(void)
{
    for (int i = 0; i < CANARY_WORDS; i++)
        boot_stack_bottom[i] = STACK_CANARY;
}

void stack_check(void)
{
    for (int i = 0; i < CANARY_WORDS; i++) {
        if (boot_stack_bottom[i] != STACK_CANARY) {
            kprintf("levitate: warning: boot stack overflow (%d KiB stack)\n",
                    BOOT_STACK_SIZE / 1024);
            return;
        }
    }
}

void boot_begin(uint64_t load_phys, uint64_t console)
{
    boot_stack_canary();
    time_ns(); /* time 0 is now */
    mmu_init(load_phys);
    console_init(console);
}

void boot_run(void)
{
    mmu_limit_ram(ram_phys_start(), ram_phys_end());
    vmap_init();
    boot_setup_dma();
    kmain();
    if (kernel_bootarg("poweroff"))
        power_off();
}
