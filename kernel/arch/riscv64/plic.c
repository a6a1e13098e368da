/*
 * The RISC-V Platform-Level Interrupt Controller (`riscv,plic0`,
 * `sifive,plic-1.0.0`), as QEMU's virt machine has it: sources 1..ndev,
 * one priority per source, and per context (a hart in one privilege mode)
 * enable bits, a threshold and a claim/complete register. This kernel uses
 * the boot hart's S-mode context, found from the PLIC's
 * `interrupts-extended` (the entry that points at that hart's interrupt
 * controller with the S-mode external interrupt, 9). Every source it
 * unmasks gets priority 1 over a threshold of 0. There is no MSI without
 * an IMSIC: PCI devices use INTx.
 *
 * The SBI timer bounds every sleep in arch_sleep (cpu_relax).
 */
#include "fdt.h"
#include "irq.h"
#include "kernel.h"
#include "riscv.h"

#define PLIC_PRIORITY 0x000000     /* 4 bytes per source */
#define PLIC_ENABLE 0x002000       /* per context: 0x80 bytes of bits */
#define PLIC_ENABLE_STRIDE 0x80
#define PLIC_CONTEXT 0x200000      /* per context: threshold, claim */
#define PLIC_CONTEXT_STRIDE 0x1000
#define PLIC_THRESHOLD 0x0
#define PLIC_CLAIM 0x4
#define PLIC_MAX_SOURCES 1023
#define PLIC_MAX_CONTEXTS 15872

static volatile uint8_t *plic;
static unsigned ndev;     /* sources 1..ndev */
static unsigned context;  /* the boot hart's S-mode context */

static uint32_t rd32(uint32_t off)
{
    return *(volatile uint32_t *)(plic + off);
}

static void wr32(uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(plic + off) = v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t enable_reg(unsigned irq)
{
    return PLIC_ENABLE + context * PLIC_ENABLE_STRIDE + 4 * (irq / 32);
}

static uint32_t context_reg(uint32_t reg)
{
    return PLIC_CONTEXT + context * PLIC_CONTEXT_STRIDE + reg;
}

int arch_irq_unmask(const struct irq_line *line)
{
    if (!plic || line->irq == 0 || line->irq > ndev)
        return -1;
    wr32(PLIC_PRIORITY + 4 * line->irq, 1);
    wr32(enable_reg(line->irq), rd32(enable_reg(line->irq)) | 1u << (line->irq % 32));
    return 0;
}

int arch_msi_line(unsigned n, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data)
{
    (void)n, (void)requester, (void)event, (void)irq, (void)addr, (void)data;
    return -1;
}

bool arch_msi_available(void)
{
    return false;
}

/* One cell: the source number. QEMU's sources are level-triggered. */
int irq_decode(const uint8_t *cells, unsigned n, struct irq_line *out)
{
    if (n != 1)
        return -1;
    uint32_t src = be32(cells);
    if (src == 0 || src > PLIC_MAX_SOURCES || (plic && src > ndev))
        return -1;
    out->irq = src;
    out->edge = false;
    return 0;
}

unsigned irq_cells(void)
{
    return plic ? 1 : 0;
}

const char *irq_controller(void)
{
    return plic ? "PLIC" : "none";
}

/* The phandle of the boot hart's interrupt controller (the
 * `riscv,cpu-intc` child of the cpu node whose reg is the hart id). */
static bool hart_intc(const struct fdt *fdt, uint32_t *phandle)
{
    struct fdt_walk w;
    struct fdt_node node, cpu;

    fdt_walk_begin(&w, fdt);
    while (fdt_walk_next_compatible(&w, "riscv,cpu-intc", &node) > 0) {
        char path[FDT_PATH_MAX];
        size_t n = strlen(node.path);
        uint32_t hart;

        while (n > 0 && node.path[n - 1] != '/')
            n--;
        if (n <= 1)
            continue;
        memcpy(path, node.path, n - 1);
        path[n - 1] = '\0';
        if (fdt_find_path(fdt, path, &cpu) == FDT_OK &&
            fdt_getprop_u32(fdt, &cpu, "reg", &hart) == FDT_OK && hart == boot_hart() &&
            fdt_getprop_u32(fdt, &node, "phandle", phandle) == FDT_OK)
            return true;
    }
    return false;
}

/* `interrupts-extended`: (phandle, cause) pairs, one per context. */
static bool find_context(const struct fdt *fdt, const struct fdt_node *node)
{
    uint32_t len, intc;
    const uint8_t *p = fdt_getprop(fdt, node, "interrupts-extended", &len);

    if (!p || len % 8 || !hart_intc(fdt, &intc))
        return false;
    for (uint32_t i = 0; i < len / 8 && i < PLIC_MAX_CONTEXTS; i++) {
        if (be32(p + 8 * i) == intc && be32(p + 8 * i + 4) == IRQ_S_EXT) {
            context = i;
            return true;
        }
    }
    return false;
}

static bool find_plic(const struct fdt *fdt, struct fdt_node *node)
{
    static const char *const compat[] = {"riscv,plic0", "sifive,plic-1.0.0"};

    for (unsigned i = 0; i < ARRAY_SIZE(compat); i++) {
        struct fdt_walk w;
        fdt_walk_begin(&w, fdt);
        if (fdt_walk_next_compatible(&w, compat[i], node) > 0)
            return true;
    }
    return false;
}

bool arch_irq_init(const struct fdt *fdt)
{
    struct fdt_node node;
    uint64_t phys, size;
    uint32_t n = 0;

    if (!fdt || !find_plic(fdt, &node) || fdt_node_reg(fdt, &node, 0, &phys, &size) != FDT_OK ||
        fdt_getprop_u32(fdt, &node, "riscv,ndev", &n) != FDT_OK || n == 0 ||
        n > PLIC_MAX_SOURCES) {
        kprintf("levitate: interrupts: no PLIC in the device tree; every device is polled\n");
        return false;
    }
    if (!find_context(fdt, &node)) {
        kprintf("levitate: interrupts: PLIC at 0x%08llx has no S-mode context for hart %u; "
                "polling\n", (unsigned long long)phys, boot_hart());
        return false;
    }
    if (size < PLIC_CONTEXT + (uint64_t)(context + 1) * PLIC_CONTEXT_STRIDE ||
        !(plic = ioremap(phys, size))) {
        kprintf("levitate: interrupts: PLIC registers cannot be mapped; polling\n");
        return false;
    }
    ndev = n;

    for (unsigned i = 0; i <= ndev; i += 32)
        wr32(enable_reg(i), 0);
    wr32(context_reg(PLIC_THRESHOLD), 0);
    sbi_set_timer(~0ULL); /* no timer interrupt until a sleep asks for one */
    csr_set(sie, 1ULL << IRQ_S_EXT | 1ULL << IRQ_S_TIMER);
    csr_set(sstatus, SSTATUS_SIE);
    kprintf("levitate: interrupts: PLIC at 0x%08llx, %u lines, context %u (hart %u S-mode), "
            "no MSI\n",
            (unsigned long long)phys, ndev, context, boot_hart());
    return true;
}

/* The external interrupt (trap.c): claim, handle, complete, until none. */
void irq_dispatch(void)
{
    for (;;) {
        uint32_t src = rd32(context_reg(PLIC_CLAIM));

        if (src == 0)
            return;
        irq_handle(src);
        wr32(context_reg(PLIC_CLAIM), src);
    }
}

void arch_pause(void)
{
    __asm__ volatile(".4byte 0x0100000f" ::: "memory"); /* pause (Zihintpause) */
}

/*
 * With interrupts masked in sstatus (sie still enables them), look at the
 * count once more (an interrupt may have come since the caller did), then
 * wfi: an enabled pending interrupt ends it even while masked, and is taken
 * once sstatus.SIE is set again. The SBI timer bounds the sleep and is
 * switched off again before that, so it never traps.
 */
void arch_sleep(const volatile uint64_t *taken, uint64_t seen)
{
    uint64_t ticks = cycles_per_second() / (1000000 / CPU_RELAX_TICK_US);

    csr_clear(sstatus, SSTATUS_SIE);
    if (*taken == seen) {
        sbi_set_timer(cycles() + (ticks ? ticks : 1));
        wfi();
        sbi_set_timer(~0ULL);
    }
    csr_set(sstatus, SSTATUS_SIE);
}
