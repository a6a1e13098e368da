/*
 * The PCIe host bridge as the device tree describes it: a
 * `pci-host-ecam-generic` node's ECAM range, bus range and windows
 * (`ranges`). The enumeration itself (pci.c) needs only the description,
 * so a kernel without a device tree (x86: ACPI's MCFG) describes the
 * bridge its own way.
 */
#include "fdt.h"
#include "ktest.h"
#include "pci.h"

static uint64_t be_cells(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n * 4; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * `ranges`: (PCI address: 3 cells, CPU address: the parent's cells, size:
 * the node's #size-cells). The first cell's bits 25:24 are the space: 1 I/O,
 * 2 32-bit memory, 3 64-bit memory; bit 30 prefetchable.
 */
static int parse_ranges(const struct fdt *fdt, const struct fdt_node *node,
                        struct pci_host_bridge *hb)
{
    uint32_t len, size_cells = 2, addr_cells = 3;
    const uint8_t *p = fdt_getprop(fdt, node, "ranges", &len);

    fdt_getprop_u32(fdt, node, "#address-cells", &addr_cells);
    fdt_getprop_u32(fdt, node, "#size-cells", &size_cells);
    unsigned parent = node->addr_cells;
    if (!p || addr_cells != 3 || parent < 1 || parent > 2 || size_cells < 1 || size_cells > 2)
        return -1;
    unsigned entry = (3 + parent + size_cells) * 4;
    if (len % entry != 0)
        return -1;
    for (const uint8_t *e = p; e < p + len; e += entry) {
        uint32_t hi = (uint32_t)be_cells(e, 1);
        struct pci_window w = {
            .present = true,
            .pci = be_cells(e + 4, 2),
            .cpu = be_cells(e + 12, parent),
            .size = be_cells(e + 12 + 4 * parent, size_cells),
        };
        unsigned space = (hi >> 24) & 3;
        struct pci_window *to = space == 1   ? &hb->io
                                 : space == 2 ? &hb->mem
                                 : space == 3 ? &hb->pref
                                              : NULL;
        if (!to || to->present || w.size == 0)
            continue;
        w.name = to->name;
        *to = w;
    }
    return 0;
}

/* The node whose phandle is `ph`; false when there is none. */
static bool node_by_phandle(const struct fdt *fdt, uint32_t ph, struct fdt_node *out)
{
    struct fdt_walk w;
    uint32_t v;

    fdt_walk_begin(&w, fdt);
    while (fdt_walk_next(&w, out) > 0)
        if (fdt_getprop_u32(fdt, out, "phandle", &v) == FDT_OK && v == ph)
            return true;
    return false;
}

/*
 * `interrupt-map`: entries of (child unit address: 3 cells, child pin: 1
 * cell, parent phandle, parent unit address: its #address-cells, parent
 * specifier: its #interrupt-cells), matched after `interrupt-map-mask`.
 * QEMU's virt maps each slot's four pins (already swizzled) to GIC SPIs.
 */
static bool pci_intx_dt(const struct pci_host_bridge *hb, uint8_t device, uint8_t function,
                        unsigned pin, struct irq_line *out)
{
    uint32_t len, mlen;
    const uint8_t *map = fdt_getprop(hb->fdt, &hb->node, "interrupt-map", &len);
    const uint8_t *mask = fdt_getprop(hb->fdt, &hb->node, "interrupt-map-mask", &mlen);
    uint32_t child[4] = {(uint32_t)device << 11 | (uint32_t)function << 8, 0, 0, pin};

    if (!map || !mask || mlen != 16 || pin < 1 || pin > 4)
        return false;
    for (unsigned i = 0; i < 4; i++)
        child[i] &= (uint32_t)be_cells(mask + 4 * i, 1);
    uint32_t at = 0;
    while (at + 20 <= len) {
        const uint8_t *e = map + at;
        struct fdt_node parent;
        uint32_t pa = 0, pi = 0;
        if (!node_by_phandle(hb->fdt, (uint32_t)be_cells(e + 16, 1), &parent) ||
            fdt_getprop_u32(hb->fdt, &parent, "#interrupt-cells", &pi) != FDT_OK || pi == 0)
            return false;
        fdt_getprop_u32(hb->fdt, &parent, "#address-cells", &pa);
        uint32_t entry = 4 * (5 + pa + pi);
        if (pa > 3 || pi > 4 || at + entry > len)
            return false;
        bool match = true;
        for (unsigned i = 0; i < 4; i++)
            match = match && (uint32_t)be_cells(e + 4 * i, 1) == child[i];
        if (match)
            return pi == irq_cells() && irq_decode(e + 4 * (5 + pa), pi, out) == 0;
        at += entry;
    }
    return false;
}

bool pci_host_from_fdt(const struct fdt *fdt, struct pci_host_bridge *hb)
{
    struct fdt_walk w;
    struct fdt_node node;
    uint32_t len;

    memset(hb, 0, sizeof *hb);
    hb->io.name = "io";
    hb->mem.name = "mem";
    hb->pref.name = "mem64";
    if (!fdt)
        return false;
    fdt_walk_begin(&w, fdt);
    while (fdt_walk_next_compatible(&w, "pci-host-ecam-generic", &node) > 0) {
        const char *status = fdt_getprop_string(fdt, &node, "status");
        if (status && strcmp(status, "okay") != 0 && strcmp(status, "ok") != 0)
            continue;
        if (fdt_node_reg(fdt, &node, 0, &hb->ecam_phys, &hb->ecam_size) != FDT_OK ||
            hb->ecam_size < (1u << 20)) {
            kprintf("levitate: pci: %s: unusable reg, skipped\n", node.path);
            continue;
        }
        const uint8_t *br = fdt_getprop(fdt, &node, "bus-range", &len);
        hb->bus_first = br && len == 8 ? (uint32_t)be_cells(br, 1) : 0;
        hb->bus_last = br && len == 8 ? (uint32_t)be_cells(br + 4, 1)
                                      : (uint32_t)(hb->ecam_size >> 20) - 1;
        if (hb->bus_last < hb->bus_first || hb->bus_last > 255 ||
            ((uint64_t)(hb->bus_last - hb->bus_first + 1) << 20) > hb->ecam_size) {
            kprintf("levitate: pci: %s: bus-range %u-%u does not fit ECAM 0x%llx\n", node.path,
                    hb->bus_first, hb->bus_last, (unsigned long long)hb->ecam_size);
            continue;
        }
        if (parse_ranges(fdt, &node, hb) != 0) {
            kprintf("levitate: pci: %s: unusable ranges, skipped\n", node.path);
            continue;
        }
        hb->fdt = fdt;
        hb->node = node;
        hb->intx = pci_intx_dt;
        return true; /* one host bridge: QEMU's virt has one */
    }
    return false;
}
