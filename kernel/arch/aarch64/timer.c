/*
 * The ARM generic timer's virtual counter, which kernel/time.c counts time
 * by. Its frequency comes from CNTFRQ_EL0 (62.5 MHz on QEMU 7.2 virt).
 */
#include "kernel.h"
#include "sysreg.h"

uint64_t cycles(void)
{
    isb(); /* do not let the read move before earlier instructions */
    return read_sysreg(cntvct_el0);
}

uint64_t cycles_per_second(void)
{
    uint64_t f = read_sysreg(cntfrq_el0) & 0xffffffffu;

    return f ? f : 62500000; /* a firmware that forgot CNTFRQ: assume QEMU's */
}
