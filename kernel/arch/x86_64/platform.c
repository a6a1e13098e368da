/*
 * What an x86 PC describes without a device tree (platform.h):
 *  - the PCIe host bridge from ACPI's MCFG, with the BARs the firmware
 *    (SeaBIOS) assigned kept, and INTx through the Interrupt Line register
 *    the firmware wrote: an ISA IRQ, which the MADT maps to a GSI (q35
 *    routes each PIRQ both to the 8259 input of that number and to the
 *    IOAPIC pin of the same number);
 *  - microvm's virtio-mmio transports: from the DSDT, or with acpi=off from
 *    the `virtio_mmio.device=<size>@<addr>:<irq>` words QEMU appends to the
 *    kernel command line;
 *  - I/O ports: in and out.
 */
#include "kernel.h"
#include "pci.h"
#include "platform.h"
#include "x86.h"

#define CFG_INTERRUPT_LINE 0x3c
#define MMIO_ARG "virtio_mmio.device="

static bool pci_intx_line(const struct pci_host_bridge *hb, uint8_t device, uint8_t function,
                          unsigned pin, struct irq_line *out)
{
    volatile uint8_t *cfg =
        ioremap(hb->ecam_phys + ((uint64_t)device << 15 | (uint64_t)function << 12), 4096);
    bool edge, low;

    if (!cfg || pin < 1 || pin > 4)
        return false;
    uint8_t line = cfg[CFG_INTERRUPT_LINE];
    if (line == 0 || line >= 16)
        return false; /* 0xff: the firmware routed nothing */
    out->irq = acpi_isa_irq(line, &edge, &low);
    /* Without an override the ISA default (edge) would be wrong: PCI's is
     * level, active low. */
    out->edge = false;
    out->low = edge ? true : low;
    return true;
}

bool arch_pci_host(struct pci_host_bridge *hb)
{
    uint64_t base;
    uint16_t segment;
    uint8_t first, last;

    memset(hb, 0, sizeof *hb);
    if (!acpi_mcfg(&base, &segment, &first, &last))
        return false;
    hb->ecam_phys = base + ((uint64_t)first << 20);
    hb->ecam_size = (uint64_t)(last - first + 1) << 20;
    hb->bus_first = first;
    hb->bus_last = last;
    hb->keep_bars = true;
    /* Port numbers and memory addresses are the CPU's own on a PC. */
    hb->io = (struct pci_window){"io", true, 0, 0, 0x10000};
    hb->mem = (struct pci_window){"mem", true, 0, 0, 1ULL << 32};
    hb->pref = (struct pci_window){"mem64", true, 1ULL << 32, 1ULL << 32, LINEAR_END - (1ULL << 32)};
    hb->intx = pci_intx_line;
    return true;
}

/* "<size>[K|M|G]@<addr>:<irq>[:<id>]" -> a slot; false if malformed. */
static bool parse_mmio_arg(const char *s, struct mmio_slot *out)
{
    uint64_t size = 0, addr = 0, irq = 0;
    unsigned n = 0;

    for (; *s >= '0' && *s <= '9'; s++, n++)
        size = size * 10 + (uint64_t)(*s - '0');
    if (*s == 'K' || *s == 'k')
        size <<= 10, s++;
    else if (*s == 'M' || *s == 'm')
        size <<= 20, s++;
    if (!n || *s++ != '@' || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    s += 2;
    for (n = 0;; s++, n++) {
        char c = *s;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d == 16)
            break;
        addr = addr << 4 | d;
    }
    if (!n || *s++ != ':')
        return false;
    for (n = 0; *s >= '0' && *s <= '9'; s++, n++)
        irq = irq * 10 + (uint64_t)(*s - '0');
    if (!n || irq >= 256 || (*s && *s != ' ' && *s != ':'))
        return false;
    *out = (struct mmio_slot){
        .phys = addr, .size = size, .has_irq = true,
        .irq = {.irq = (unsigned)irq, .edge = false, .low = false},
        .source = "command line",
    };
    return true;
}

unsigned arch_mmio_devices(struct mmio_slot *slots, unsigned room)
{
    unsigned n = 0;
    uint64_t addr, size;
    uint32_t gsi;
    bool edge, low;

    for (unsigned i = 0; n < room && acpi_virtio_mmio(i, &addr, &size, &gsi, &edge, &low); i++)
        slots[n++] = (struct mmio_slot){
            .phys = addr, .size = size, .has_irq = true,
            .irq = {.irq = gsi, .edge = edge, .low = low},
            .source = "ACPI",
        };
    if (n)
        return n;
    for (const char *p = kernel_bootargs(); n < room && (p = strstr(p, MMIO_ARG)); p++) {
        if (p != kernel_bootargs() && p[-1] != ' ')
            continue;
        if (parse_mmio_arg(p + sizeof(MMIO_ARG) - 1, &slots[n]))
            n++;
        else
            kprintf("levitate: warning: unusable %s...\n", MMIO_ARG);
    }
    return n;
}

bool arch_has_ports(void)
{
    return true;
}

uint32_t port_read(uint64_t port, unsigned width)
{
    uint16_t p = (uint16_t)port;
    return width == 1 ? inb(p) : width == 2 ? inw(p) : inl(p);
}

void port_write(uint64_t port, unsigned width, uint32_t value)
{
    uint16_t p = (uint16_t)port;
    if (width == 1)
        outb(p, (uint8_t)value);
    else if (width == 2)
        outw(p, (uint16_t)value);
    else
        outl(p, value);
}
