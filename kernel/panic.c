/*
 * Panics: panic() for what the kernel finds wrong itself, and the parts of
 * the architecture's exception report (arch/<arch>/: aarch64 exceptions.c,
 * riscv64 and x86_64 trap.c). Every exception is fatal in this kernel: it
 * is reported in one greppable line, "levitate: PANIC ...", then the
 * details and the registers, then the machine is powered off, so that a
 * test run ends instead of hanging until its timeout.
 */
#include "internal.h"

void panic(const char *fmt, ...)
{
    va_list ap;

    kprintf("\nlevitate: PANIC ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    arch_panic_power_off();
}

void panic_report_begin(void)
{
    static bool panicking;

    if (panicking) /* the report itself faulted: just stop */
        arch_panic_power_off();
    panicking = true;
    kprintf("\nlevitate: PANIC ");
}

void panic_print_regs(const char *const names[], const uint64_t values[], unsigned n,
                      unsigned per_line, int name_width)
{
    for (unsigned i = 0; i < n; i++) {
        kprintf("%s%-*s=0x%016llx", i % per_line ? " " : "levitate:   ", name_width, names[i],
                (unsigned long long)values[i]);
        if (i % per_line == per_line - 1 || i == n - 1)
            kprintf("\n");
    }
}
