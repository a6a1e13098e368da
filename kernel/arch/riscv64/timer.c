/*
 * The `time` CSR (rdtime), which kernel/time.c counts time by; it counts
 * at the DT's /cpus timebase-frequency (10 MHz on QEMU 7.2 virt).
 * Interrupts from it (the SBI timer) only bound sleeps: plic.c's
 * arch_sleep.
 */
#include "fdt.h"
#include "kernel.h"
#include "riscv.h"

#define FREQ_FALLBACK 10000000ULL /* QEMU virt */

static uint64_t freq = FREQ_FALLBACK;

void timer_init(const struct fdt *fdt)
{
    struct fdt_node node;
    uint32_t f;

    if (fdt_find_path(fdt, "/cpus", &node) == FDT_OK &&
        fdt_getprop_u32(fdt, &node, "timebase-frequency", &f) == FDT_OK && f)
        freq = f;
}

uint64_t cycles(void)
{
    uint64_t t;

    __asm__ volatile("rdtime %0" : "=r"(t) : : "memory");
    return t;
}

uint64_t cycles_per_second(void)
{
    return freq;
}
