/*
 * Time from the `time` CSR (rdtime), which counts at the DT's
 * /cpus timebase-frequency (10 MHz on QEMU 7.2 virt). Interrupts from it
 * (the SBI timer) only bound sleeps: plic.c's arch_sleep.
 */
#include "fdt.h"
#include "kernel.h"
#include "riscv.h"

#define NS_PER_SEC 1000000000ULL
#define FREQ_FALLBACK 10000000ULL /* QEMU virt */

static uint64_t boot_count;
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

/* Seconds and the remainder separately: rem < f < 2^32, rem * 1e9 < 2^62. */
uint64_t time_ns(void)
{
    uint64_t t = cycles();

    if (!boot_count)
        boot_count = t;
    t -= boot_count;
    return t / freq * NS_PER_SEC + t % freq * NS_PER_SEC / freq;
}

void delay_ns(uint64_t ns)
{
    uint64_t end = time_ns() + ns;

    while (time_ns() < end)
        ;
}
