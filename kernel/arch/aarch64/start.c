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
    uint64_t addr;

    if (boot_stdout_node(fdt, &node) && fdt_node_is_compatible(fdt, &node, "arm,pl011") &&
        fdt_node_reg(fdt, &node, 0, &addr, NULL) == FDT_OK)
        return addr;
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
    boot_el = entry_el;
    boot_begin(load_phys, PL011_FALLBACK); /* the console early, so that DTB trouble is seen */
    boot_read_dtb(dtb);
    const struct fdt *fdt = kernel_fdt();
    if (fdt) {
        console_init(find_console(fdt));
        read_psci(fdt);
        boot_read_memory();
    }
    boot_run();
    for (;;)
        wfi();
}
