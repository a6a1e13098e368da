/*
 * C entry on riscv64, called by boot.S with translation on, at the high
 * address: the console (an NS16550A, early at QEMU virt's address, then the
 * one the device tree names), the device tree, the timer's frequency,
 * power-off, RAM, the DMA pool, then kmain. The neutral steps are in
 * kernel/boot.c.
 */
#include "fdt.h"
#include "internal.h"
#include "riscv.h"

#define UART_FALLBACK 0x10000000ULL /* QEMU virt */

static const char *const uart_compat[] = {"ns16550a", "ns16550"};

static unsigned hart_id;

unsigned boot_hart(void) { return hart_id; }

static bool is_uart(const struct fdt *fdt, const struct fdt_node *node)
{
    for (unsigned i = 0; i < ARRAY_SIZE(uart_compat); i++)
        if (fdt_node_is_compatible(fdt, node, uart_compat[i]))
            return true;
    return false;
}

static bool use_uart(const struct fdt *fdt, const struct fdt_node *node, uint64_t *addr)
{
    uint32_t shift = 0;

    if (fdt_node_reg(fdt, node, 0, addr, NULL) != FDT_OK)
        return false;
    fdt_getprop_u32(fdt, node, "reg-shift", &shift);
    uart_set_shift(shift);
    return true;
}

/* The UART named by /chosen stdout-path, else the first NS16550. */
static uint64_t find_console(const struct fdt *fdt)
{
    struct fdt_node node;
    struct fdt_walk w;
    uint64_t addr;

    if (boot_stdout_node(fdt, &node) && is_uart(fdt, &node) && use_uart(fdt, &node, &addr))
        return addr;
    for (unsigned i = 0; i < ARRAY_SIZE(uart_compat); i++) {
        fdt_walk_begin(&w, fdt);
        if (fdt_walk_next_compatible(&w, uart_compat[i], &node) > 0 &&
            use_uart(fdt, &node, &addr))
            return addr;
    }
    uart_set_shift(0);
    return UART_FALLBACK;
}

void kernel_start(uint64_t dtb, uint64_t load_phys, unsigned hart)
{
    hart_id = hart;
    boot_begin(load_phys, UART_FALLBACK); /* the console early, so that DTB trouble is seen */
    boot_read_dtb(dtb);
    const struct fdt *fdt = kernel_fdt();
    if (fdt) {
        console_init(find_console(fdt));
        timer_init(fdt);
        power_init(fdt);
        boot_read_memory();
    }
    boot_run();
    for (;;)
        wfi();
}
