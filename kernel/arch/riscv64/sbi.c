/*
 * The Supervisor Binary Interface (OpenSBI under QEMU): the timer that
 * bounds a sleep, and power-off by System Reset (SRST). If SRST is missing
 * or fails, power-off writes the "sifive,test0" device's finisher value
 * (QEMU's syscon-poweroff does the same).
 */
#include "fdt.h"
#include "internal.h"
#include "riscv.h"

#define SBI_EXT_TIME 0x54494d45u /* "TIME" */
#define SBI_EXT_SRST 0x53525354u /* "SRST" */
#define SRST_SHUTDOWN 0
#define SRST_NO_REASON 0

#define TEST_FALLBACK 0x100000ULL /* QEMU virt */
#define TEST_POWEROFF 0x5555u

struct sbiret {
    long error;
    long value;
};

static uint64_t test_phys = TEST_FALLBACK;

static struct sbiret sbi_call(uint32_t ext, uint32_t fn, uint64_t arg0, uint64_t arg1)
{
    register uint64_t a0 __asm__("a0") = arg0;
    register uint64_t a1 __asm__("a1") = arg1;
    register uint64_t a6 __asm__("a6") = fn;
    register uint64_t a7 __asm__("a7") = ext;

    __asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
    return (struct sbiret){(long)a0, (long)a1};
}

void sbi_set_timer(uint64_t stime)
{
    sbi_call(SBI_EXT_TIME, 0, stime, 0);
}

void power_init(const struct fdt *fdt)
{
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr;

    fdt_walk_begin(&w, fdt);
    if (fdt_walk_next_compatible(&w, "sifive,test0", &node) > 0 &&
        fdt_node_reg(fdt, &node, 0, &addr, NULL) == FDT_OK)
        test_phys = addr;
}

void power_off(void)
{
    struct sbiret r;
    volatile uint32_t *test;

    stack_check();
    r = sbi_call(SBI_EXT_SRST, 0, SRST_SHUTDOWN, SRST_NO_REASON);
    test = ioremap(test_phys, 4);
    kprintf("levitate: SBI system reset failed (%ld), trying the test device\n", r.error);
    if (test)
        *test = TEST_POWEROFF;
    for (;;)
        wfi();
}

void arch_panic_power_off(void)
{
    power_off();
}
