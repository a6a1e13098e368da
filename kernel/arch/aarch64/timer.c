/*
 * Time from the ARM generic timer's virtual counter. Its frequency comes
 * from CNTFRQ_EL0 (62.5 MHz on QEMU 7.2 virt); there are no interrupts.
 */
#include "kernel.h"
#include "sysreg.h"

#define NS_PER_SEC 1000000000ULL

static uint64_t boot_count;

static uint64_t freq(void)
{
    uint64_t f = read_sysreg(cntfrq_el0) & 0xffffffffu;

    return f ? f : 62500000; /* a firmware that forgot CNTFRQ: assume QEMU's */
}

uint64_t cycles(void)
{
    isb(); /* do not let the read move before earlier instructions */
    return read_sysreg(cntvct_el0);
}

uint64_t cycles_per_second(void)
{
    return freq();
}

/*
 * Seconds and the remainder are converted separately, so nothing overflows:
 * rem < f <= 2^32, rem * 1e9 < 2^62.
 */
uint64_t time_ns(void)
{
    uint64_t f = freq(), t = cycles();

    if (!boot_count)
        boot_count = t;
    t -= boot_count;
    return t / f * NS_PER_SEC + t % f * NS_PER_SEC / f;
}

void delay_ns(uint64_t ns)
{
    uint64_t end = time_ns() + ns;

    while (time_ns() < end)
        ;
}
