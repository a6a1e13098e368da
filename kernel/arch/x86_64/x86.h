/* What only the x86_64 files share with each other: port I/O, MSRs, the
 * CPU's flags, and the set-up calls between them. */
#ifndef KERNEL_X86_64_X86_H
#define KERNEL_X86_64_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

static inline void invlpg(uintptr_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
static inline void tlb_flush_all(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* start.c: called by boot.S at the high address. */
void kernel_start(uint32_t start_info_phys);

/* trap.c: the GDT's TSS (an IST stack for exceptions) and the IDT. */
void trap_init(void);
/* trap.c: a vector >= 32 arrived (vectors.S), on the interrupted stack. */
void x86_interrupt(uint64_t vector);

/* apic.c: end the interrupt in service at the local APIC. */
void lapic_eoi(void);

/* timer.c: calibrate the TSC (and the local APIC timer, whose ticks per
 * microsecond it returns through lapic_ticks_per_us) against the PIT. */
void timer_init(void);
/* apic.c: the local APIC timer's ticks in one microsecond (timer.c). */
uint32_t lapic_timer_calibrate_begin(void);
void lapic_timer_calibrate_end(uint32_t start, uint64_t ns);

/* acpi.c: the tables, from the RSDP the loader named (0: search the BIOS
 * area). Everything below answers "not there" without ACPI. */
void acpi_init(uint64_t rsdp_phys);
bool acpi_present(void);
/* MCFG's first entry: ECAM base, segment and bus range. */
bool acpi_mcfg(uint64_t *base, uint16_t *segment, uint8_t *bus_first, uint8_t *bus_last);
/* MADT: the local APIC's address; IOAPIC n (address, first GSI); the GSI
 * and polarity/trigger flags of ISA IRQ `irq` (an interrupt source
 * override, else the same number, edge, active high). */
bool acpi_lapic(uint64_t *addr);
bool acpi_ioapic(unsigned n, uint64_t *addr, uint32_t *gsi_base);
uint32_t acpi_isa_irq(unsigned irq, bool *edge, bool *low);
/* DSDT: the n-th virtio-mmio transport (_HID "LNRO0005"): its registers
 * and its interrupt (GSI, trigger and polarity). */
bool acpi_virtio_mmio(unsigned n, uint64_t *addr, uint64_t *size, uint32_t *gsi, bool *edge,
                      bool *low);
/* Power off through the FADT's PM1a control block or, on hardware-reduced
 * ACPI (microvm), its sleep control register, with \_S5's SLP_TYP.
 * Returns if there is no way. */
void acpi_power_off(void);

/* The maximum number of IOAPICs this kernel drives. */
#define MAX_IOAPICS 4

#endif
