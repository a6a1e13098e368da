/*
 * Interrupts on x86_64: the local APIC (this CPU's; its timer bounds every
 * sleep) and the IOAPICs of the ACPI MADT (without ACPI, QEMU's one at
 * 0xfec00000 from GSI 0). The 8259 PICs are remapped out of the way and
 * masked.
 *
 * The kernel's line numbers (irq.h) are GSIs below MSI_FIRST_LINE, routed
 * by the IOAPIC that has them to vector VEC_LINE0 + GSI, fixed delivery to
 * this CPU; from MSI_FIRST_LINE on they are message-signalled lines, one
 * vector each: a PCI function writes data = vector to 0xfee00000 | APIC id
 * << 12. So line n is always vector VEC_LINE0 + n.
 */
#include "irq.h"
#include "kernel.h"
#include "x86.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)

/* Local APIC registers */
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ISR 0x100    /* 8 registers, 0x10 apart */
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define SVR_ENABLE (1u << 8)
#define TIMER_DIV_16 0x3

/* IOAPIC: an index register and a data window */
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL 0x10 /* two registers per pin */
#define RTE_LOW_ACTIVE (1u << 13)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)

#define IOAPIC_FALLBACK 0xfec00000ULL
#define LAPIC_FALLBACK 0xfee00000ULL
#define MSI_ADDR 0xfee00000ULL
#define MSI_LINES (VEC_LAST_LINE - VEC_LINE0 + 1 - MSI_FIRST_LINE)

struct ioapic {
    volatile uint32_t *regs;
    uint64_t phys;
    uint32_t gsi_base;
    unsigned pins;
};

static volatile uint8_t *lapic;
static uint64_t lapic_phys;
static uint32_t apic_id;
static struct ioapic ioapics[MAX_IOAPICS];
static unsigned n_ioapics;
static uint32_t timer_ticks_per_us; /* the local APIC timer at divide 16 */

static uint32_t lapic_rd(uint32_t off)
{
    return *(volatile uint32_t *)(lapic + off);
}

static void lapic_wr(uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(lapic + off) = v;
}

static uint32_t ioapic_rd(const struct ioapic *io, uint32_t reg)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    return io->regs[IOAPIC_WIN / 4];
}

static void ioapic_wr(const struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    io->regs[IOAPIC_WIN / 4] = v;
}

void lapic_eoi(void)
{
    lapic_wr(LAPIC_EOI, 0);
}

/* The local APIC, mapped early for timer.c's calibration. */
static bool lapic_map(void)
{
    uint64_t base;

    if (lapic)
        return true;
    base = rdmsr(MSR_APIC_BASE);
    lapic_phys = base & ~0xfffULL;
    if (!lapic_phys)
        lapic_phys = LAPIC_FALLBACK;
    lapic = ioremap(lapic_phys, 4096);
    if (!lapic)
        return false;
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    return true;
}

uint32_t lapic_timer_calibrate_begin(void)
{
    if (!lapic_map())
        return 0;
    lapic_wr(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
    lapic_wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
    lapic_wr(LAPIC_TIMER_INIT, 0xffffffffu);
    return 0xffffffffu;
}

void lapic_timer_calibrate_end(uint32_t start, uint64_t ns)
{
    if (!lapic)
        return;
    uint32_t now = lapic_rd(LAPIC_TIMER_CUR);
    lapic_wr(LAPIC_TIMER_INIT, 0);
    timer_ticks_per_us = (uint32_t)((uint64_t)(start - now) * 1000 / ns);
}

/* The IOAPIC with `gsi`, or NULL. */
static const struct ioapic *ioapic_of(uint32_t gsi)
{
    for (unsigned i = 0; i < n_ioapics; i++)
        if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].pins)
            return &ioapics[i];
    return NULL;
}

int arch_irq_unmask(const struct irq_line *line)
{
    if (!lapic)
        return -1;
    if (line->irq >= MSI_FIRST_LINE)
        return line->irq <= VEC_LAST_LINE - VEC_LINE0 ? 0 : -1; /* nothing to program */
    const struct ioapic *io = ioapic_of(line->irq);
    if (!io)
        return -1;
    uint32_t pin = line->irq - io->gsi_base;
    uint32_t low = (VEC_LINE0 + line->irq) | (line->edge ? 0 : RTE_LEVEL) |
                   (line->low ? RTE_LOW_ACTIVE : 0);
    ioapic_wr(io, IOAPIC_REDTBL + 2 * pin + 1, apic_id << 24);
    ioapic_wr(io, IOAPIC_REDTBL + 2 * pin, low);
    return 0;
}

int arch_msi_line(unsigned n, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data)
{
    (void)requester, (void)event;
    if (!lapic || n >= MSI_LINES)
        return -1;
    *irq = MSI_FIRST_LINE + n;
    *addr = MSI_ADDR | (uint64_t)apic_id << 12;
    *data = VEC_LINE0 + *irq; /* fixed delivery, edge */
    return 0;
}

bool arch_msi_available(void)
{
    return lapic != NULL;
}

/* No device tree on x86: lines come from ACPI or the command line. */
int irq_decode(const uint8_t *cells, unsigned n, struct irq_line *out)
{
    (void)cells, (void)n, (void)out;
    return -1;
}

unsigned irq_cells(void)
{
    return 0;
}

const char *irq_controller(void)
{
    return n_ioapics ? "IOAPIC" : "none";
}

/* The 8259s: vectors 0x20..0x2f (out of the exceptions' way), all masked. */
static void pic_off(void)
{
    static const uint8_t init[2][4] = {{0x11, 0x20, 0x04, 0x01}, {0x11, 0x28, 0x02, 0x01}};
    for (unsigned i = 0; i < 2; i++) {
        uint16_t cmd = i ? 0xa0 : 0x20;
        outb(cmd, init[i][0]);
        for (unsigned j = 1; j < 4; j++)
            outb((uint16_t)(cmd + 1), init[i][j]);
    }
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

static void find_ioapics(void)
{
    uint64_t phys;
    uint32_t base;

    for (unsigned i = 0; i < MAX_IOAPICS && acpi_ioapic(i, &phys, &base); i++)
        ioapics[n_ioapics++] = (struct ioapic){.phys = phys, .gsi_base = base};
    if (n_ioapics == 0)
        ioapics[n_ioapics++] = (struct ioapic){.phys = IOAPIC_FALLBACK, .gsi_base = 0};
    for (unsigned i = 0; i < n_ioapics; i++) {
        struct ioapic *io = &ioapics[i];
        io->regs = ioremap(io->phys, 0x20);
        if (!io->regs) {
            io->pins = 0;
            continue;
        }
        io->pins = ((ioapic_rd(io, IOAPIC_VER) >> 16) & 0xff) + 1;
        for (unsigned p = 0; p < io->pins; p++)
            ioapic_wr(io, IOAPIC_REDTBL + 2 * p, RTE_MASKED);
    }
}

bool arch_irq_init(const struct fdt *fdt)
{
    (void)fdt;
    if (!lapic_map()) {
        kprintf("levitate: interrupts: local APIC cannot be mapped; every device is polled\n");
        return false;
    }
    pic_off();
    find_ioapics();
    apic_id = lapic_rd(LAPIC_ID) >> 24;
    lapic_wr(LAPIC_TPR, 0);
    lapic_wr(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_wr(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_wr(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_wr(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot, armed by arch_sleep */
    lapic_wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
    lapic_wr(LAPIC_TIMER_INIT, 0);
    lapic_wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
    sti();
    kprintf("levitate: interrupts: IOAPIC at 0x%08llx, %u lines from GSI %u",
            (unsigned long long)ioapics[0].phys, ioapics[0].pins, ioapics[0].gsi_base);
    for (unsigned i = 1; i < n_ioapics; i++)
        kprintf(" and at 0x%08llx, %u lines from GSI %u", (unsigned long long)ioapics[i].phys,
                ioapics[i].pins, ioapics[i].gsi_base);
    kprintf(", local APIC %u at 0x%08llx (timer %u ticks/us), MSI lines %u..%u\n", apic_id,
            (unsigned long long)lapic_phys, timer_ticks_per_us, MSI_FIRST_LINE,
            MSI_FIRST_LINE + MSI_LINES - 1);
    return true;
}

/* The vector in service: the highest bit of the local APIC's ISR; -1 if none. */
static int in_service(void)
{
    for (int r = 7; r >= 0; r--) {
        uint32_t bits = lapic_rd(LAPIC_ISR + 0x10 * (uint32_t)r);
        if (bits)
            return r * 32 + 31 - __builtin_clz(bits);
    }
    return -1;
}

/* A line's vector arrived (trap.c): handle the vector in service, end it. */
void irq_dispatch(void)
{
    int v = in_service();

    if (v >= VEC_LINE0 && v <= VEC_LAST_LINE)
        irq_handle((unsigned)v - VEC_LINE0);
    lapic_eoi();
}

void arch_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/*
 * With interrupts off, look at the count once more (an interrupt may have
 * come since the caller did), then `sti; hlt`: sti takes effect after the
 * next instruction, so an interrupt pending now is taken in hlt, not
 * before it, and wakes it. The local APIC timer, one-shot, bounds the
 * sleep and is stopped again afterwards.
 */
void arch_sleep(const volatile uint64_t *taken, uint64_t seen)
{
    uint32_t ticks = timer_ticks_per_us * CPU_RELAX_TICK_US;

    cli();
    if (*taken == seen) {
        lapic_wr(LAPIC_TIMER_INIT, ticks ? ticks : 1);
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        lapic_wr(LAPIC_TIMER_INIT, 0);
    }
    sti();
}
