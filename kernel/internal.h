/*
 * Set-up calls between kernel_start and the subsystems, and the
 * architecture's parts that the neutral files call; not for kmain.
 */
#ifndef KERNEL_INTERNAL_H
#define KERNEL_INTERNAL_H

#include "kernel.h"

/* mmu.c: record where the image was loaded; narrow the linear map's RAM
 * to [start, end), unmapping the rest of its RAM window where the
 * architecture can (boot.S mapped all of it speculatively). */
void mmu_init(uint64_t load_phys);
void mmu_limit_ram(uint64_t start, uint64_t end);

/* dma.c: manage [start, end) (physical, page aligned). */
void dma_init(uint64_t start, uint64_t end);

/* boot.c, the neutral steps of each arch's kernel_start. First: the boot
 * stack's canary, time 0, where the image was loaded (mmu_init) and the
 * console at `console`, early, so that trouble with what the loader passed
 * is seen. Then, on a device-tree platform: validate the device tree at
 * `phys` (a warning and none if unusable) and take the bootargs from
 * /chosen; the node /chosen's stdout-path names (false if none); RAM from
 * /memory. Last (boot_run): the linear map narrowed to RAM, vmap, the DMA
 * pool in the largest free stretch of RAM, kmain, and power-off if the
 * bootarg "poweroff" is there; else it returns and the caller idles. */
void boot_begin(uint64_t load_phys, uint64_t console);
void boot_read_dtb(uint64_t phys);
struct fdt;
struct fdt_node;
bool boot_stdout_node(const struct fdt *dt, struct fdt_node *node);
void boot_read_memory(void);
void boot_run(void);
/* boot.c, for a platform without a device tree (x86: PVH start_info):
 * the bootargs (kept by pointer) and RAM [start, end). */
void boot_set_bootargs(const char *args);
void boot_set_memory(uint64_t start, uint64_t end);

/* panic.c, for the architecture's exception report: the start of its
 * PANIC line ("\nlevitate: PANIC "; if a report is under way already, the
 * report itself faulted: power off at once instead); `n` registers, `per_line`
 * to a line, "name=0x<16 hex digits>", each name padded to `name_width`. */
void panic_report_begin(void);
void panic_print_regs(const char *const names[], const uint64_t values[], unsigned n,
                      unsigned per_line, int name_width);

/* boot.c: there is no guard page under the boot stack (the image is
 * mapped in 2 MiB blocks), so a canary at its bottom is checked at power
 * off and on panic; prints a warning if it was overwritten. */
void stack_check(void);

/* ---- the architecture's part (arch/<arch>/) ---------------------------- */

/* Power off after a panic (panic.c): where QEMU can tell the two apart,
 * with the status that says so (x86_64: isa-debug-exit's 3, not 1);
 * elsewhere power_off. */
void arch_panic_power_off(void) __attribute__((noreturn));

/* console.c's UART (aarch64 pl011.c, riscv64 and x86_64 uart.c): use the
 * one at `phys` (x86_64: an I/O port), false if it cannot be reached; send
 * one character, take one received (-1: none waiting) (only after an init
 * that succeeded). */
bool arch_uart_init(uint64_t phys);
void arch_uart_tx(char c);
int arch_uart_rx(void);

/* Physical addresses [start, end). */
struct phys_range {
    uint64_t start, end;
};

/*
 * mmu.c's linear map (arch/<arch>/mmu.c). arch_io_ranges: where in it
 * device registers may be, which ioremap hands out (less any RAM in them:
 * x86_64's one range is all of the map). arch_linear_trim: unmap what of
 * the RAM window lies outside RAM [start, end), if the architecture does;
 * linear_trim_1g (mmu.c) does it for a window mapped in 1 GiB entries,
 * entries[i] mapping physical i GiB, before the TLB is flushed.
 */
extern const struct phys_range arch_io_ranges[];
extern const unsigned arch_io_ranges_n;
void arch_linear_trim(uint64_t start, uint64_t end);
void linear_trim_1g(uint64_t *entries, uint64_t start, uint64_t end);

/*
 * vmap.c's page tables (arch/<arch>/vmap.c): window page i is the 4 KiB
 * page at VMAP_BASE + i * PAGE_SIZE, i < VMAP_SIZE / PAGE_SIZE.
 */
/* Hook the window's tables into the kernel's page tables (once, by
 * vmap_init; panics if their slot is taken). */
void arch_vmap_init(void);
/* vmap.c, for arch_vmap_init: the physical address of one of its static
 * tables (page aligned; a panic if it has none). */
uint64_t vmap_table_phys(const void *table);
/* Map window page i to RAM page `phys`, cacheable like the linear map; or
 * unmap it. Takes effect after arch_vmap_flush. */
void arch_vmap_map_page(size_t i, uint64_t phys);
void arch_vmap_unmap_page(size_t i);
/* After mapping (or, with `unmapped`, unmapping) window pages [first,
 * first + n): the walker sees the new entries, the TLB keeps no stale
 * translation of them. */
void arch_vmap_flush(size_t first, size_t n, bool unmapped);
/* The page window page i maps; PHYS_INVALID if it is unmapped. */
uint64_t arch_vmap_phys(size_t i);

#endif
