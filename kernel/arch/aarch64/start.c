/*
 * C entry on aarch64, called by boot.S with the MMU on, at the high
 * address: the console (a PL011, early at QEMU virt's address, then the one
 * the device tree names), the device tree, PSCI's calling method, RAM, the
 * DMA pool, then kmain. The neutral steps are in kernel/boot.c.
 */
#include "aarch64.h"
#include "internal.h"
#include "fdt.h"
#include "sysreg.h"

#define PL011_FALLBACK 0x09000000ULL /* QEMU virt */

static unsigned boot_el;

unsigned kernel_entry_el(void) { return boot_el; }

/* The PL011 named by /chosen stdout-path, else the first one. */
static uint64_t find_console(const struct fdt *fdt)
{
    struct fdt_node node;
    struct fdt_walk w;
    char path[FDT_PATH_MAX];
    uint64_t addr;
    const char *out = NULL;

    if (fdt_find_path(fdt, "/chosen", &node) == FDT_OK)
        out = fdt_getprop_string(fdt, &node, "stdout-path");
    if (out && out[0] == '/') {
        size_t n = 0;

        for (; out[n] && out[n] != ':' && n < sizeof(path) - 1; n++)
            path[n] = out[n];
        path[n] = '\0';
        if (fdt_find_path(fdt, path, &node) == FDT_OK &&
            fdt_node_is_compatible(fdt, &node, "arm,pl011") &&
            fdt_node_reg(fdt, &node, 0, &addr, NULL) == FDT_OK)
            return addr;
    }
    fdt_walk_begin(&w, fdt);
    if (fdt_walk_next_compatible(&w, "arm,pl011", &node) > 0 &&
        fdt_node_reg(fdt, &node, 0, &addr, NULL) == FDT_OK)
        return addr;
    return PL011_FALLBACK;
}

static void read_psci(const struct fdt *fdt)
{
    struct fdt_node node;
    const char *s;

    if (fdt_find_path(fdt, "/psci", &node) == FDT_OK &&
        (s = fdt_getprop_string(fdt, &node, "method")))
        psci_use_smc(strcmp(s, "smc") == 0);
}

void kernel_start(uint64_t dtb, uint64_t load_phys, unsigned entry_el)
{
    boot_stack_canary();
    boot_el = entry_el;
    time_ns(); /* time 0 is now */
    mmu_init(load_phys);
    console_init(PL011_FALLBACK); /* early, so that DTB trouble is seen */
    boot_read_dtb(dtb);
    const struct fdt *fdt = kernel_fdt();
    if (fdt) {
        console_init(find_console(fdt));
        read_psci(fdt);
        boot_read_memory();
    }
    mmu_limit_ram(ram_phys_start(), ram_phys_end());
    vmap_init();
    boot_setup_dma();
    kmain();
    if (kernel_bootarg("poweroff"))
        power_off();
    for (;;)
        wfi();
}
