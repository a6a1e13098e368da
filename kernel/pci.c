/*
 * PCIe enumeration for the test kernel: an ECAM host bridge as described
 * (pci_dt.c: from the device tree; on x86 from ACPI, platform.h), every bus
 * behind it, BARs sized and assigned from the bridge's windows (on virt
 * nobody else has: there is no firmware), bridges given bus numbers and
 * windows, decoding and bus mastering enabled. Where firmware has done the
 * assigning (x86's SeaBIOS: the bridge's keep_bars) its BARs and bus
 * numbers are kept and only decoding and bus mastering are turned on. Each
 * virtio function is then handed to the library's lvio_pci_probe.
 *
 * Facts of QEMU's aarch64 virt: ECAM at 0x4010000000 (256 buses, 1 MiB
 * each), windows from `ranges`: I/O at CPU 0x3eff0000 (PCI 0, 64 KiB),
 * 32-bit memory 0x10000000 (identity), 64-bit memory 0x8000000000
 * (identity). riscv64 virt: ECAM 0x30000000, I/O at CPU 0x3000000, 32-bit
 * memory 0x40000000, 64-bit memory 0x400000000.
 */
#include "ktest.h"
#include "pci.h"
#include "platform.h"

#define PCI_MAX_DEPTH 8
#define PCI_MAX_FUNCS 64

/* Type 0 / type 1 header fields used here. */
#define CFG_VENDOR 0x00
#define CFG_DEVICE 0x02
#define CFG_COMMAND 0x04
#define CFG_CLASS 0x08 /* revision, prog-if, subclass, class */
#define CFG_HEADER_TYPE 0x0e
#define CFG_BAR0 0x10
#define CFG_PRIMARY_BUS 0x18
#define CFG_SECONDARY_BUS 0x19
#define CFG_SUBORDINATE_BUS 0x1a
#define CFG_IO_BASE 0x1c
#define CFG_IO_LIMIT 0x1d
#define CFG_MEM_BASE 0x20
#define CFG_MEM_LIMIT 0x22
#define CFG_PREF_BASE 0x24
#define CFG_PREF_LIMIT 0x26
#define CFG_PREF_BASE_UPPER 0x28
#define CFG_PREF_LIMIT_UPPER 0x2c
#define CFG_IO_BASE_UPPER 0x30
#define CFG_IO_LIMIT_UPPER 0x32

#define CMD_IO 0x1u
#define CMD_MEMORY 0x2u
#define CMD_MASTER 0x4u

/* A window of the host bridge, allocated upwards in PCI bus addresses. */
struct window {
    const char *name;
    bool present;
    uint64_t pci;   /* bus address of the window's start */
    uint64_t cpu;   /* where the CPU sees it */
    uint64_t size;
    uint64_t next;  /* next free bus address */
};

/* The enumeration's state: the bridge it was given, and what it assigned. */
static struct {
    volatile uint8_t *ecam;
    uint64_t ecam_phys, ecam_size;
    uint32_t bus_first, bus_last;
    uint32_t next_bus;
    bool keep;      /* keep the firmware's BARs and bus numbers */
    struct window io, mem, pref;
    unsigned nfuncs, nbridges, nfailed;
    struct lvio_pci_function funcs[PCI_MAX_FUNCS]; /* virtio functions */
    unsigned nvirtio;
} host;

/* ---- configuration space -------------------------------------------------- */

static volatile uint8_t *cfg_base(uint32_t bus, unsigned dev, unsigned fn)
{
    uint64_t off = ((uint64_t)(bus - host.bus_first) << 20) | (dev << 15) | (fn << 12);
    if (bus < host.bus_first || bus > host.bus_last || off + 4096 > host.ecam_size)
        return NULL;
    return host.ecam + off;
}

static uint32_t cfg_r(volatile uint8_t *c, unsigned off, unsigned width)
{
    if (width == 1)
        return *(volatile uint8_t *)(c + off);
    if (width == 2)
        return *(volatile uint16_t *)(c + off);
    return *(volatile uint32_t *)(c + off);
}

static void cfg_w(volatile uint8_t *c, unsigned off, unsigned width, uint32_t v)
{
    if (width == 1)
        *(volatile uint8_t *)(c + off) = (uint8_t)v;
    else if (width == 2)
        *(volatile uint16_t *)(c + off) = (uint16_t)v;
    else
        *(volatile uint32_t *)(c + off) = v;
}

/* ---- BARs -------------------------------------------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Take `size` bytes (a power of two, aligned to itself) from `w`. */
static bool window_take(struct window *w, uint64_t size, uint64_t *bus)
{
    if (!w->present)
        return false;
    uint64_t a = align_up(w->next, size);
    if (a < w->next || a + size > w->pci + w->size || a + size < a)
        return false;
    *bus = a;
    w->next = a + size;
    return true;
}

/* The window holding bus address [bus, bus + size) of the kind, or NULL. */
static const struct window *window_of(uint64_t bus, uint64_t size, bool io)
{
    const struct window *ws[] = {io ? &host.io : &host.mem, io ? NULL : &host.pref};
    for (unsigned k = 0; k < 2; k++) {
        const struct window *w = ws[k];
        if (w && w->present && bus >= w->pci && bus - w->pci < w->size &&
            size <= w->size - (bus - w->pci))
            return w;
    }
    return NULL;
}

/* A BAR the firmware assigned (at bus address `bus`): describe it. */
static unsigned bar_keep(uint64_t bus, uint64_t size, bool io, struct lvio_pci_bar *out,
                         uint32_t *cmd_need, unsigned i, const char *where)
{
    const struct window *w = bus ? window_of(bus, size, io) : NULL;
    if (!w) {
        kprintf("levitate: pci %s: BAR %u (0x%llx bytes) %s, left off\n", where, i,
                (unsigned long long)size, bus ? "outside the bridge's windows"
                                              : "not assigned by the firmware");
        return 1;
    }
    out->phys = bus - w->pci + w->cpu;
    out->size = size;
    out->io = io;
    *cmd_need |= io ? CMD_IO : CMD_MEMORY;
    return 1;
}

/*
 * Size BAR `i` (decoding is off), assign it from a window, write it and
 * describe it in `fn`. Returns how many BAR slots it used (2 for 64-bit).
 */
static unsigned bar_assign(volatile uint8_t *c, unsigned i, unsigned nbars,
                           struct lvio_pci_bar *out, uint32_t *cmd_need, const char *where)
{
    unsigned off = CFG_BAR0 + 4 * i;
    uint32_t orig = cfg_r(c, off, 4);
    cfg_w(c, off, 4, 0xffffffffu);
    uint32_t v = cfg_r(c, off, 4);
    cfg_w(c, off, 4, orig);
    if (v == 0)
        return 1; /* not implemented */

    bool io = v & 1;
    bool is64 = !io && ((v >> 1) & 3) == 2;
    bool pref = !io && (v & 8);
    uint64_t mask, current = orig & (io ? ~3u : ~0xfu);
    if (io) {
        mask = 0xffffffff00000000ull | ((v & ~3u) | 0xffff0000u);
    } else if (is64 && i + 1 < nbars) {
        uint32_t orig_hi = cfg_r(c, off + 4, 4);
        current |= (uint64_t)orig_hi << 32;
        cfg_w(c, off + 4, 4, 0xffffffffu);
        uint32_t vh = cfg_r(c, off + 4, 4);
        cfg_w(c, off + 4, 4, orig_hi);
        mask = ((uint64_t)vh << 32) | (v & ~0xfu);
    } else {
        mask = 0xffffffff00000000ull | (v & ~0xfu);
    }
    uint64_t size = ~mask + 1;
    unsigned used = is64 ? 2 : 1;
    if (size == 0 || (size & (size - 1)) != 0) {
        kprintf("levitate: pci %s: BAR %u reads 0x%08x: not a valid size, left off\n", where, i,
                v);
        return used;
    }
    if (host.keep)
        return bar_keep(current, size, io, out, cmd_need, i, where) + (used - 1);
    /* 64-bit prefetchable BARs go high; everything else below 4 GiB. */
    struct window *w = io ? &host.io : (is64 && pref && host.pref.present) ? &host.pref : &host.mem;
    uint64_t bus;
    if (!window_take(w, size < 16 ? 16 : size, &bus)) {
        kprintf("levitate: pci %s: BAR %u (0x%llx bytes) does not fit the %s window, left off\n",
                where, i, (unsigned long long)size, w->name);
        host.nfailed++;
        return used;
    }
    cfg_w(c, off, 4, (uint32_t)bus | (v & (io ? 3u : 0xfu)));
    if (is64)
        cfg_w(c, off + 4, 4, (uint32_t)(bus >> 32));
    out->phys = bus - w->pci + w->cpu;
    out->size = size;
    out->io = io;
    *cmd_need |= io ? CMD_IO : CMD_MEMORY;
    return used;
}

/* Size and assign every BAR of a function, then enable it. */
static void function_setup(volatile uint8_t *c, unsigned nbars, struct lvio_pci_function *fn,
                           const char *where)
{
    uint32_t cmd = cfg_r(c, CFG_COMMAND, 2);
    uint32_t need = CMD_MASTER;

    cfg_w(c, CFG_COMMAND, 2, cmd & ~(CMD_IO | CMD_MEMORY)); /* no decoding while sizing */
    for (unsigned i = 0; i < nbars;)
        i += bar_assign(c, i, nbars, &fn->bar[i], &need, where);
    cfg_w(c, CFG_COMMAND, 2, cmd | need);
}

/* ---- buses ------------------------------------------------------------------- */

static void scan_bus(uint32_t bus, unsigned depth);

/* Align a window's allocation pointer for a bridge window's granularity. */
static void window_align(struct window *w, uint64_t gran)
{
    if (w->present)
        w->next = align_up(w->next, gran);
}

/* A bridge the firmware numbered: scan behind it as it is. */
static void bridge_keep(volatile uint8_t *c, uint32_t bus, unsigned depth, const char *where)
{
    uint32_t secondary = cfg_r(c, CFG_SECONDARY_BUS, 1);
    uint32_t subordinate = cfg_r(c, CFG_SUBORDINATE_BUS, 1);

    host.nbridges++;
    if (depth >= PCI_MAX_DEPTH || secondary <= bus || secondary > host.bus_last) {
        kprintf("levitate: pci %s: bridge not followed (%s)\n", where,
                depth >= PCI_MAX_DEPTH ? "too deep" : "no bus number from the firmware");
        return;
    }
    cfg_w(c, CFG_COMMAND, 2, cfg_r(c, CFG_COMMAND, 2) | CMD_MASTER | CMD_IO | CMD_MEMORY);
    if (subordinate + 1 > host.next_bus)
        host.next_bus = subordinate + 1;
    scan_bus(secondary, depth + 1);
}

/* Give the bridge at `c` the next bus number, scan behind it, then
 * program its windows to cover what was assigned there. */
static void bridge_setup(volatile uint8_t *c, uint32_t bus, unsigned depth, const char *where)
{
    struct lvio_pci_function dummy;

    memset(&dummy, 0, sizeof dummy);
    function_setup(c, 2, &dummy, where); /* a bridge's own BARs, if any */
    if (host.keep) {
        bridge_keep(c, bus, depth, where);
        return;
    }
    if (depth >= PCI_MAX_DEPTH || host.next_bus > host.bus_last) {
        kprintf("levitate: pci %s: bridge not followed (%s)\n", where,
                depth >= PCI_MAX_DEPTH ? "too deep" : "no bus numbers left");
        return;
    }
    uint32_t secondary = host.next_bus++;
    cfg_w(c, CFG_PRIMARY_BUS, 1, bus);
    cfg_w(c, CFG_SECONDARY_BUS, 1, secondary);
    cfg_w(c, CFG_SUBORDINATE_BUS, 1, host.bus_last);
    host.nbridges++;

    window_align(&host.io, 0x1000);
    window_align(&host.mem, 0x100000);
    window_align(&host.pref, 0x100000);
    uint64_t io0 = host.io.next, mem0 = host.mem.next, pref0 = host.pref.next;
    scan_bus(secondary, depth + 1);
    window_align(&host.io, 0x1000);
    window_align(&host.mem, 0x100000);
    window_align(&host.pref, 0x100000);
    cfg_w(c, CFG_SUBORDINATE_BUS, 1, host.next_bus - 1);

    uint32_t cmd = cfg_r(c, CFG_COMMAND, 2) | CMD_MASTER;
    if (host.io.next > io0) {
        uint64_t last = host.io.next - 1;
        cfg_w(c, CFG_IO_BASE, 1, (uint32_t)((io0 >> 8) & 0xf0) | 1);
        cfg_w(c, CFG_IO_LIMIT, 1, (uint32_t)((last >> 8) & 0xf0) | 1);
        cfg_w(c, CFG_IO_BASE_UPPER, 2, (uint32_t)(io0 >> 16));
        cfg_w(c, CFG_IO_LIMIT_UPPER, 2, (uint32_t)(last >> 16));
        cmd |= CMD_IO;
    } else {
        cfg_w(c, CFG_IO_BASE, 1, 0xf0);
        cfg_w(c, CFG_IO_LIMIT, 1, 0x00);
    }
    if (host.mem.next > mem0) {
        cfg_w(c, CFG_MEM_BASE, 2, (uint32_t)(mem0 >> 16) & 0xfff0);
        cfg_w(c, CFG_MEM_LIMIT, 2, (uint32_t)((host.mem.next - 1) >> 16) & 0xfff0);
        cmd |= CMD_MEMORY;
    } else {
        cfg_w(c, CFG_MEM_BASE, 2, 0xfff0);
        cfg_w(c, CFG_MEM_LIMIT, 2, 0x0000);
    }
    if (host.pref.next > pref0) {
        uint64_t last = host.pref.next - 1;
        cfg_w(c, CFG_PREF_BASE, 2, ((uint32_t)(pref0 >> 16) & 0xfff0) | 1);
        cfg_w(c, CFG_PREF_LIMIT, 2, ((uint32_t)(last >> 16) & 0xfff0) | 1);
        cfg_w(c, CFG_PREF_BASE_UPPER, 4, (uint32_t)(pref0 >> 32));
        cfg_w(c, CFG_PREF_LIMIT_UPPER, 4, (uint32_t)(last >> 32));
        cmd |= CMD_MEMORY;
    } else {
        cfg_w(c, CFG_PREF_BASE, 2, 0xfff1);
        cfg_w(c, CFG_PREF_LIMIT, 2, 0x0001);
        cfg_w(c, CFG_PREF_BASE_UPPER, 4, 0);
        cfg_w(c, CFG_PREF_LIMIT_UPPER, 4, 0);
    }
    cfg_w(c, CFG_COMMAND, 2, cmd);
}

static void scan_function(uint32_t bus, unsigned dev, unsigned fn, unsigned depth)
{
    volatile uint8_t *c = cfg_base(bus, dev, fn);
    char where[16];

    ksnprintf(where, sizeof where, "%02x:%02x.%x", bus, dev, fn);
    host.nfuncs++;
    uint32_t type = cfg_r(c, CFG_HEADER_TYPE, 1) & 0x7f;
    if (type == 1) {
        bridge_setup(c, bus, depth, where);
        return;
    }
    if (type != 0) {
        kprintf("levitate: pci %s: header type %u, skipped\n", where, type);
        return;
    }
    struct lvio_pci_function f;
    memset(&f, 0, sizeof f);
    f.cfg = c;
    f.cfg_size = 4096;
    f.bus = (uint8_t)bus;
    f.device = (uint8_t)dev;
    f.function = (uint8_t)fn;
    function_setup(c, LVIO_PCI_NUM_BARS, &f, where);
    if (cfg_r(c, CFG_VENDOR, 2) != LVIO_PCI_VENDOR_ID_VIRTIO)
        return;
    if (host.nvirtio == PCI_MAX_FUNCS) {
        kprintf("levitate: pci %s: more than %u virtio functions, skipped\n", where,
                PCI_MAX_FUNCS);
        return;
    }
    host.funcs[host.nvirtio++] = f;
}

static void scan_bus(uint32_t bus, unsigned depth)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        volatile uint8_t *c = cfg_base(bus, dev, 0);
        if (!c || cfg_r(c, CFG_VENDOR, 2) == 0xffff)
            continue;
        bool multi = cfg_r(c, CFG_HEADER_TYPE, 1) & 0x80;
        for (unsigned fn = 0; fn < (multi ? 8u : 1u); fn++) {
            volatile uint8_t *cf = cfg_base(bus, dev, fn);
            if (fn > 0 && cfg_r(cf, CFG_VENDOR, 2) == 0xffff)
                continue;
            scan_function(bus, dev, fn, depth);
        }
    }
}

/* ---- entry -------------------------------------------------------------------- */

static void window_from(struct window *to, const struct pci_window *from)
{
    *to = (struct window){from->name, from->present, from->pci, from->cpu, from->size,
                          from->pci};
}

unsigned pci_enumerate(const struct pci_host_bridge *hb, struct kdev *devices, unsigned room)
{
    unsigned n = 0;

    memset(&host, 0, sizeof host);
    host.ecam_phys = hb->ecam_phys;
    host.ecam_size = hb->ecam_size;
    host.bus_first = hb->bus_first;
    host.bus_last = hb->bus_last;
    host.keep = hb->keep_bars;
    window_from(&host.io, &hb->io);
    window_from(&host.mem, &hb->mem);
    window_from(&host.pref, &hb->pref);
    /* I/O port 0 and the first ports look unassigned to some devices. */
    if (host.io.present && host.io.size > 0x1000)
        host.io.next = host.io.pci + 0x1000;
    host.ecam = ioremap(host.ecam_phys, (size_t)host.ecam_size);
    if (!host.ecam) {
        kprintf("levitate: pci: ECAM 0x%llx is not mapped, skipped\n",
                (unsigned long long)host.ecam_phys);
        return 0;
    }
    host.next_bus = host.bus_first + 1;
    scan_bus(host.bus_first, 0);
    kprintf("levitate: pci: ECAM 0x%llx, buses %02x-%02x, %u functions, %u bridges, "
            "%u virtio\n",
            (unsigned long long)host.ecam_phys, host.bus_first, host.next_bus - 1, host.nfuncs,
            host.nbridges, host.nvirtio);
    for (unsigned i = 0; i < host.nvirtio; i++) {
        const struct lvio_pci_function *f = &host.funcs[i];
        if (n == room) {
            kprintf("levitate: pci: no room for more devices, %02x:%02x.%x skipped\n", f->bus,
                    f->device, f->function);
            continue;
        }
        struct kdev *k = &devices[n];
        int rc = lvio_pci_probe(&k->dev, kernel_hal(), f);
        if (rc == LVIO_E_NODEV)
            continue;
        if (rc != LVIO_OK) {
            const char *why = lvio_device_error(&k->dev);
            kprintf("lvio: virtio pci@%02x:%02x.%x: error %s probing%s%s\n", f->bus, f->device,
                    f->function, lvio_errname(rc), why[0] ? ": " : "", why);
            expect(false, "pci %02x:%02x.%x: probe: %s", f->bus, f->device, f->function,
                   lvio_errname(rc));
            continue;
        }
        kdev_wire_pci(k, hb, f);
        n++;
    }
    return n;
}

unsigned discover_pci(struct kdev *devices, unsigned room)
{
    struct pci_host_bridge hb;
    if (!pci_host_from_fdt(kernel_fdt(), &hb) && !arch_pci_host(&hb))
        return 0;
    return pci_enumerate(&hb, devices, room);
}
