/*
 * The Arm Generic Interrupt Controller, as QEMU's virt machine has it:
 * GICv2 (distributor + memory-mapped CPU interface, `arm,cortex-a15-gic`)
 * with an optional v2m MSI frame (`arm,gic-v2m-frame`), or GICv3
 * (distributor + redistributors, CPU interface through ICC_* system
 * registers, `arm,gic-v3`). One CPU. Every used interrupt is group 1 on
 * GICv3 and group 0 on GICv2 (both signalled as IRQ here: QEMU's virt runs
 * without the security extensions unless asked), priority 0xa0.
 *
 * MSI: GICv2m turns a 32-bit write of an SPI number to MSI_SETSPI_NS into
 * that SPI; under GICv3 the ITS (gic_its.c) turns a device's event into an
 * LPI.
 *
 * The architectural timer's virtual interrupt (PPI 11, INTID 27) bounds
 * every sleep in arch_sleep (cpu_relax).
 */
#include "gic_its.h"
#include "irq.h"
#include "kernel.h"
#include "sysreg.h"

/* Distributor (both versions) */
#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800 /* v2 */
#define GICD_ICFGR 0xc00
#define GICD_IROUTER 0x6000 /* v3, 64-bit per SPI */
#define GICD_CTLR_RWP (1u << 31)

/* GICv2 CPU interface */
#define GICC_CTLR 0x00
#define GICC_PMR 0x04
#define GICC_IAR 0x0c
#define GICC_EOIR 0x10

/* GICv3 redistributor: RD_base, then the SGI_base frame 64 KiB on */
#define GICR_WAKER 0x0014
#define GICR_SGI 0x10000
#define GICR_STRIDE 0x20000
#define GICR_TYPER 0x0008
#define GICR_TYPER_LAST (1u << 4)

/* GICv2m frame */
#define V2M_MSI_TYPER 0x008
#define V2M_MSI_SETSPI_NS 0x040

/* ICC_* by encoding (no assembler feature flags needed) */
#define ICC_IAR1_EL1 "S3_0_C12_C12_0"
#define ICC_EOIR1_EL1 "S3_0_C12_C12_1"
#define ICC_PMR_EL1 "S3_0_C4_C6_0"
#define ICC_SRE_EL1 "S3_0_C12_C12_5"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"

#define PRIORITY 0xa0
#define SPURIOUS 1020
#define TIMER_PPI 27 /* virtual timer */

static unsigned version;          /* 0: none, 2, 3 */
static volatile uint8_t *gicd, *gicc, *gicr; /* gicr: this CPU's RD_base */
static unsigned lines;            /* INTIDs the distributor has (SPIs + 32) */
static uint64_t v2m_phys;
static unsigned msi_base, msi_count;

static uint32_t rd32(volatile uint8_t *base, uint32_t off)
{
    return *(volatile uint32_t *)(base + off);
}

static void wr32(volatile uint8_t *base, uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(base + off) = v;
}

static void wr64(volatile uint8_t *base, uint32_t off, uint64_t v)
{
    wr32(base, off, (uint32_t)v);
    wr32(base, off + 4, (uint32_t)(v >> 32));
}

#define MSR(reg, v) __asm__ volatile("msr " reg ", %0" : : "r"((uint64_t)(v)) : "memory")
#define MRS(reg)                                                                                   \
    __extension__({                                                                                \
        uint64_t v_;                                                                               \
        __asm__ volatile("mrs %0, " reg : "=r"(v_));                                               \
        v_;                                                                                        \
    })

static void gicd_wait_rwp(void)
{
    for (unsigned i = 0; i < 1000000 && (rd32(gicd, GICD_CTLR) & GICD_CTLR_RWP); i++)
        ;
}

/* The distributor's or (SGIs, PPIs on GICv3) the redistributor's registers
 * for `irq`. */
static volatile uint8_t *bank_of(unsigned irq)
{
    return version == 3 && irq < 32 ? gicr + GICR_SGI : gicd;
}

static void set_bit(volatile uint8_t *base, uint32_t reg, unsigned irq)
{
    wr32(base, reg + 4 * (irq / 32), 1u << (irq % 32));
}

static void configure(unsigned irq, bool edge)
{
    volatile uint8_t *b = bank_of(irq);
    uint32_t cfg = rd32(b, GICD_ICFGR + 4 * (irq / 16));
    unsigned shift = 2 * (irq % 16) + 1;

    cfg = edge ? cfg | (1u << shift) : cfg & ~(1u << shift);
    if (irq >= 16) /* SGIs are always edge; their ICFGR is read-only */
        wr32(b, GICD_ICFGR + 4 * (irq / 16), cfg);
    *(b + GICD_IPRIORITYR + irq) = PRIORITY;
    if (version == 3) {
        uint32_t grp = rd32(b, GICD_IGROUPR + 4 * (irq / 32));
        wr32(b, GICD_IGROUPR + 4 * (irq / 32), grp | (1u << (irq % 32)));
        if (irq >= 32)
            wr64(gicd, GICD_IROUTER + 8 * irq, 0); /* affinity 0.0.0.0: this CPU */
    } else if (irq >= 32) {
        *(gicd + GICD_ITARGETSR + irq) = 1; /* CPU interface 0 */
    }
}

int arch_irq_unmask(const struct irq_line *line)
{
    if (its_is_lpi(line->irq))
        return its_unmask(line->irq);
    if (!version || line->irq >= lines || line->irq >= SPURIOUS)
        return -1;
    configure(line->irq, line->edge);
    set_bit(bank_of(line->irq), GICD_ISENABLER, line->irq);
    return 0;
}

int arch_msi_line(unsigned n, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data)
{
    if (its_ready())
        return its_msi_line(requester, event, irq, addr, data);
    if (!v2m_phys || n >= msi_count)
        return -1;
    *irq = msi_base + n;
    *addr = v2m_phys + V2M_MSI_SETSPI_NS;
    *data = msi_base + n;
    return 0;
}

bool arch_msi_available(void)
{
    return msi_count > 0 || its_ready();
}

/* Three cells: type (0 SPI, 1 PPI), number, flags (1/2 edge, 4/8 level). */
int irq_decode(const uint8_t *cells, unsigned n, struct irq_line *out)
{
    if (n != 3)
        return -1;
    uint32_t c[3];
    for (unsigned i = 0; i < 3; i++)
        c[i] = (uint32_t)cells[4 * i] << 24 | (uint32_t)cells[4 * i + 1] << 16 |
               (uint32_t)cells[4 * i + 2] << 8 | cells[4 * i + 3];
    if (c[0] > 1 || (c[0] == 0 && c[1] >= 988) || (c[0] == 1 && c[1] >= 16))
        return -1;
    out->irq = c[1] + (c[0] == 0 ? 32 : 16);
    out->edge = (c[2] & 0xf) == 1 || (c[2] & 0xf) == 2;
    return 0;
}

unsigned irq_cells(void)
{
    return version ? 3 : 0;
}

const char *irq_controller(void)
{
    return version == 3 ? "GICv3" : version == 2 ? "GICv2" : "none";
}

static void disable_all(void)
{
    for (unsigned i = 32; i < lines; i += 32)
        wr32(gicd, GICD_ICENABLER + 4 * (i / 32), 0xffffffffu);
    wr32(bank_of(0), GICD_ICENABLER, 0xffffffffu);
}

static bool init_v2(void)
{
    wr32(gicd, GICD_CTLR, 0);
    disable_all();
    wr32(gicd, GICD_CTLR, 1);
    wr32(gicc, GICC_PMR, 0xf0);
    wr32(gicc, GICC_CTLR, 1);
    return true;
}

static bool init_v3(void)
{
    wr32(gicd, GICD_CTLR, 0);
    gicd_wait_rwp();
    disable_all();
    /* ARE, EnableGrp1, EnableGrp0 (one security state) */
    wr32(gicd, GICD_CTLR, (1u << 4) | (1u << 1) | 1u);
    gicd_wait_rwp();
    /* Wake this CPU's redistributor. */
    wr32(gicr, GICR_WAKER, rd32(gicr, GICR_WAKER) & ~2u);
    for (unsigned i = 0; i < 1000000 && (rd32(gicr, GICR_WAKER) & 4u); i++)
        ;
    if (rd32(gicr, GICR_WAKER) & 4u) {
        kprintf("levitate: interrupts: GICv3 redistributor did not wake; polling\n");
        return false;
    }
    MSR(ICC_SRE_EL1, MRS(ICC_SRE_EL1) | 1);
    isb();
    MSR(ICC_PMR_EL1, 0xf0);
    MSR(ICC_IGRPEN1_EL1, 1);
    isb();
    return true;
}

static bool find_gic(const struct fdt *fdt, struct fdt_node *node)
{
    static const char *const compat[] = {"arm,gic-v3", "arm,cortex-a15-gic", "arm,gic-400"};
    for (unsigned i = 0; i < ARRAY_SIZE(compat); i++) {
        struct fdt_walk w;
        fdt_walk_begin(&w, fdt);
        if (fdt_walk_next_compatible(&w, compat[i], node) > 0) {
            version = i == 0 ? 3 : 2;
            return true;
        }
    }
    return false;
}

static void find_v2m(const struct fdt *fdt)
{
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;

    fdt_walk_begin(&w, fdt);
    if (fdt_walk_next_compatible(&w, "arm,gic-v2m-frame", &node) <= 0 ||
        fdt_node_reg(fdt, &node, 0, &addr, &size) != FDT_OK || size < 0x1000)
        return;
    volatile uint8_t *frame = ioremap(addr, 0x1000);
    if (!frame)
        return;
    uint32_t typer = rd32(frame, V2M_MSI_TYPER);
    uint32_t base = (typer >> 16) & 0x3ff, count = typer & 0x3ff;
    if (base < 32 || count == 0 || base + count > lines)
        return;
    v2m_phys = addr;
    msi_base = base;
    msi_count = count;
}

/* This CPU's redistributor: the one whose GICR_TYPER says it is last, or
 * the first (one CPU, affinity 0). */
static volatile uint8_t *map_redistributor(uint64_t phys, uint64_t size)
{
    if (size < GICR_STRIDE)
        return NULL;
    return ioremap(phys, GICR_STRIDE);
}

static void timer_tick(void *arg)
{
    (void)arg;
    write_sysreg(cntv_ctl_el0, 0); /* off: the sleep it bounded is over */
}

bool arch_irq_init(const struct fdt *fdt)
{
    struct fdt_node node;
    uint64_t d_phys, d_size, c_phys, c_size;

    if (!fdt || !find_gic(fdt, &node) || fdt_node_reg(fdt, &node, 0, &d_phys, &d_size) != FDT_OK ||
        fdt_node_reg(fdt, &node, 1, &c_phys, &c_size) != FDT_OK) {
        version = 0;
        kprintf("levitate: interrupts: no GIC in the device tree; every device is polled\n");
        return false;
    }
    gicd = ioremap(d_phys, 0x10000);
    if (version == 3)
        gicr = map_redistributor(c_phys, c_size);
    else
        gicc = ioremap(c_phys, 0x2000);
    if (!gicd || (version == 3 ? !gicr : !gicc)) {
        kprintf("levitate: interrupts: GICv%u registers cannot be mapped; polling\n", version);
        version = 0;
        return false;
    }
    lines = 32 * ((rd32(gicd, GICD_TYPER) & 0x1f) + 1);
    if (lines > SPURIOUS)
        lines = SPURIOUS;
    if (!(version == 3 ? init_v3() : init_v2())) {
        version = 0;
        return false;
    }
    if (version == 2)
        find_v2m(fdt);
    bool its = version == 3 && its_init(fdt, gicr, c_phys);
    /* The timer's handler is attached by the first arch_sleep (irq_attach
     * wants irq_init done). */
    write_sysreg(cntv_ctl_el0, 0);
    __asm__ volatile("msr daifclr, #2" ::: "memory"); /* take IRQs */
    if (msi_count)
        kprintf("levitate: interrupts: %s at 0x%08llx, %u lines, MSI through v2m SPIs "
                "%u..%u\n",
                irq_controller(), (unsigned long long)d_phys, lines, msi_base,
                msi_base + msi_count - 1);
    else if (its)
        kprintf("levitate: interrupts: %s at 0x%08llx, %u lines, MSI through the ITS "
                "(LPIs)\n",
                irq_controller(), (unsigned long long)d_phys, lines);
    else
        kprintf("levitate: interrupts: %s at 0x%08llx, %u lines, no MSI\n", irq_controller(),
                (unsigned long long)d_phys, lines);
    return true;
}

/* The IRQ exception (vectors.S): acknowledge, handle, end, until none. */
void irq_dispatch(void)
{
    for (;;) {
        unsigned intid = version == 3 ? (unsigned)MRS(ICC_IAR1_EL1) & 0xffffff
                                      : rd32(gicc, GICC_IAR) & 0x3ff;
        if (intid >= SPURIOUS && intid < 1024)
            return; /* 1020..1023: nothing (more) pending */
        irq_handle(intid);
        if (version == 3)
            MSR(ICC_EOIR1_EL1, intid);
        else
            wr32(gicc, GICC_EOIR, intid);
    }
}

void arch_pause(void)
{
    __asm__ volatile("yield");
}

/*
 * With IRQs masked, look at the count once more (an interrupt may have come
 * since the caller did), then wfi: a pending interrupt ends it even while
 * masked, and is taken once they are unmasked again. The virtual timer
 * bounds the sleep.
 */
void arch_sleep(const volatile uint64_t *taken, uint64_t seen)
{
    static bool timer_attached;

    if (!timer_attached) {
        struct irq_line timer = {.irq = TIMER_PPI, .edge = false};
        timer_attached = irq_attach(&timer, timer_tick, NULL) == 0;
    }
    uint64_t ticks = read_sysreg(cntfrq_el0) / (1000000 / CPU_RELAX_TICK_US);
    __asm__ volatile("msr daifset, #2" ::: "memory");
    if (*taken == seen) {
        write_sysreg(cntv_tval_el0, ticks ? ticks : 1);
        write_sysreg(cntv_ctl_el0, 1);
        isb();
        wfi();
    }
    __asm__ volatile("msr daifclr, #2" ::: "memory");
    isb();
    write_sysreg(cntv_ctl_el0, 0);
}
