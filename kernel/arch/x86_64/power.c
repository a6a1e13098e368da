/*
 * Power-off, first way that works:
 *  1. QEMU's isa-debug-exit at port 0xf4 (arch.mk adds it): a write ends
 *     QEMU at once with status (value << 1) | 1, so a run that ends after
 *     the verdict exits 1 and one that panicked exits 3. Without the
 *     device the write goes nowhere.
 *  2. ACPI S5 through the FADT (q35: PM1a control at 0x604; microvm:
 *     the hardware-reduced sleep control register), acpi.c.
 *  3. Without ACPI tables: q35's PM1a control (0x604, SLP_TYP 0), or on a
 *     machine without PCI (microvm) its GED sleep register.
 */
#include "internal.h"
#include "x86.h"

#define DEBUG_EXIT_PORT 0xf4
#define Q35_PM1A_CNT 0x604
#define PM1_SLP_EN 0x2000
#define MICROVM_GED_SLEEP 0xfea00200ULL
#define MICROVM_S5 0x34   /* SLP_TYP 5 << 2 | SLP_EN */

static void settle(void)
{
    delay_ns(10 * 1000 * 1000); /* some of these act asynchronously */
}

/* QEMU exits with status * 2 + 1: 1 after the verdict, 3 after a panic. */
static __attribute__((noreturn)) void power_off_status(unsigned status)
{
    uint16_t seg;
    uint8_t b0, b1;

    cli();
    if (status == 0)
        stack_check();
    outb(DEBUG_EXIT_PORT, (uint8_t)status);
    acpi_power_off();
    settle();
    if (acpi_mcfg(&(uint64_t){0}, &seg, &b0, &b1) || !acpi_present()) {
        outw(Q35_PM1A_CNT, PM1_SLP_EN);
        settle();
    }
    if (!acpi_mcfg(&(uint64_t){0}, &seg, &b0, &b1)) {
        volatile uint8_t *ged = ioremap(MICROVM_GED_SLEEP, 1);
        if (ged)
            *ged = MICROVM_S5;
        settle();
    }
    kprintf("levitate: power-off failed (no isa-debug-exit, ACPI or known machine)\n");
    for (;;)
        hlt();
}

void power_off(void)
{
    power_off_status(0);
}

void arch_panic_power_off(void)
{
    power_off_status(1);
}
