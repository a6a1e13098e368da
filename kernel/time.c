/*
 * Time from the architecture's free-running counter (arch/<arch>/timer.c:
 * cycles() and cycles_per_second()), counted from its first reading.
 */
#include "irq.h"
#include "kernel.h"

#define NS_PER_SEC 1000000000ULL

static uint64_t boot_count;

/* Seconds and the remainder separately, so nothing overflows while
 * hz < 2^64 / 10^9 (18 GHz): the remainder is below hz. */
uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz)
{
    return ticks / hz * NS_PER_SEC + ticks % hz * NS_PER_SEC / hz;
}

uint64_t time_ns(void)
{
    uint64_t t = cycles();

    if (!boot_count)
        boot_count = t;
    return ticks_to_ns(t - boot_count, cycles_per_second());
}

uint64_t boot_entry_cycles(void)
{
    return boot_count;
}

void delay_ns(uint64_t ns)
{
    uint64_t end = time_ns() + ns;

    while (time_ns() < end)
        arch_pause();
}
