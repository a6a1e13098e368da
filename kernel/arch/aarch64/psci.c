/*
 * PSCI SYSTEM_OFF: the clean way to end a QEMU run. The conduit is hvc by
 * default (QEMU virt without EL2); the DTB's /psci "method" may say smc
 * (virt with virtualization=on).
 */
#include "aarch64.h"
#include "internal.h"
#include "sysreg.h"

#define PSCI_SYSTEM_OFF 0x84000008u

static bool use_smc;

void psci_use_smc(bool smc)
{
    use_smc = smc;
}

static uint64_t psci_call(uint64_t fn)
{
    register uint64_t x0 __asm__("x0") = fn;

    if (use_smc)
        __asm__ volatile("smc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    else
        __asm__ volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    return x0;
}

void power_off(void)
{
    uint64_t ret;

    stack_check();
    ret = psci_call(PSCI_SYSTEM_OFF);

    kprintf("levitate: PSCI SYSTEM_OFF failed (%ld), halting\n", (long)ret);
    for (;;)
        wfi();
}

void arch_panic_power_off(void)
{
    power_off();
}
