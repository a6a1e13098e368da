/*
 * The few ACPI tables this kernel reads, from the RSDP the PVH loader names
 * (or, without one, found in the BIOS area): MCFG (the PCI ECAM), MADT (the
 * local APIC, IOAPICs and ISA interrupt overrides), FADT (power-off; the
 * DSDT's address) and, in the DSDT, only what is needed: \_S5's sleep type
 * and microvm's virtio-mmio devices. Every table is checked (signature,
 * length, checksum) before it is used; one that fails is ignored.
 *
 * AML is not interpreted. A virtio-mmio device in microvm's DSDT is a
 * Device with _HID "LNRO0005" whose _CRS buffer holds a Memory32Fixed
 * descriptor (registers) and an Extended Interrupt descriptor (its GSI);
 * both are picked out of the bytes that follow the _HID string, up to the
 * next device's _HID.
 */
#include "kernel.h"
#include "x86.h"

#define MAX_TABLES 32
#define TABLE_MAX_LEN (4u << 20)
#define HDR_LEN 36
#define BIOS_AREA 0xe0000ULL
#define BIOS_AREA_END 0x100000ULL
#define EBDA_PTR 0x40eULL

/* MADT entry types */
#define MADT_IOAPIC 1
#define MADT_OVERRIDE 2

/* FADT fields */
#define FADT_DSDT 40
#define FADT_PM1A_CNT 64
#define FADT_FLAGS 112
#define FADT_X_DSDT 140
#define FADT_SLEEP_CTRL 244   /* generic address structure (ACPI 5+) */
#define FADT_HW_REDUCED (1u << 20)

/* AML and resource descriptors */
#define AML_PACKAGE 0x12
#define AML_BYTE 0x0a
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define RES_MEM32_FIXED 0x86
#define RES_EXT_IRQ 0x89
#define VIRTIO_MMIO_HID "LNRO0005"

static const uint8_t *tables[MAX_TABLES];
static unsigned n_tables;
static uint64_t rsdp_at;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static bool checksum_ok(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* A table at `phys`, checked; NULL if unusable. */
static const uint8_t *table_at(uint64_t phys)
{
    const uint8_t *t = phys ? phys_to_virt(phys) : NULL;

    if (!t || !phys_to_virt(phys + HDR_LEN))
        return NULL;
    uint32_t len = rd32(t + 4);
    if (len < HDR_LEN || len > TABLE_MAX_LEN || !phys_to_virt(phys + len - 1) ||
        !checksum_ok(t, len))
        return NULL;
    return t;
}

static const uint8_t *find_rsdp_in(uint64_t start, uint64_t end)
{
    for (uint64_t a = start; a + 20 <= end; a += 16) {
        const uint8_t *p = phys_to_virt(a);
        if (p && memcmp(p, "RSD PTR ", 8) == 0 && checksum_ok(p, 20)) {
            rsdp_at = a;
            return p;
        }
    }
    return NULL;
}

static const uint8_t *find_rsdp(uint64_t phys)
{
    const uint8_t *p = phys ? phys_to_virt(phys) : NULL;

    if (p && memcmp(p, "RSD PTR ", 8) == 0 && checksum_ok(p, 20)) {
        rsdp_at = phys;
        return p;
    }
    const uint8_t *e = phys_to_virt(EBDA_PTR);
    uint64_t ebda = e ? (uint64_t)rd16(e) << 4 : 0;
    if (ebda && (p = find_rsdp_in(ebda, ebda + 1024)))
        return p;
    return find_rsdp_in(BIOS_AREA, BIOS_AREA_END);
}

void acpi_init(uint64_t rsdp_phys)
{
    const uint8_t *rsdp = find_rsdp(rsdp_phys);

    if (!rsdp)
        return;
    bool x = rsdp[15] >= 2 && rd32(rsdp + 20) >= 36 && checksum_ok(rsdp, 36) && rd64(rsdp + 24);
    const uint8_t *root = table_at(x ? rd64(rsdp + 24) : rd32(rsdp + 16));
    unsigned width = x ? 8 : 4;

    if (!root || memcmp(root, x ? "XSDT" : "RSDT", 4) != 0) {
        kprintf("levitate: warning: ACPI root table at the RSDP (0x%llx) unusable\n",
                (unsigned long long)rsdp_at);
        return;
    }
    for (uint32_t off = HDR_LEN; off + width <= rd32(root + 4) && n_tables < MAX_TABLES;
         off += width) {
        const uint8_t *t = table_at(x ? rd64(root + off) : rd32(root + off));
        if (t)
            tables[n_tables++] = t;
    }
    /* The FADT's DSDT is not in the root table: add it. */
    for (unsigned i = 0; i < n_tables; i++) {
        const uint8_t *f = tables[i];
        if (memcmp(f, "FACP", 4) != 0 || n_tables == MAX_TABLES)
            continue;
        uint32_t len = rd32(f + 4);
        uint64_t d = len >= FADT_X_DSDT + 8 ? rd64(f + FADT_X_DSDT) : 0;
        const uint8_t *dsdt = table_at(d ? d : rd32(f + FADT_DSDT));
        if (dsdt && memcmp(dsdt, "DSDT", 4) == 0)
            tables[n_tables++] = dsdt;
        break;
    }
}

bool acpi_present(void)
{
    return n_tables > 0;
}

static const uint8_t *find_table(const char *sig)
{
    for (unsigned i = 0; i < n_tables; i++)
        if (memcmp(tables[i], sig, 4) == 0)
            return tables[i];
    return NULL;
}

bool acpi_mcfg(uint64_t *base, uint16_t *segment, uint8_t *bus_first, uint8_t *bus_last)
{
    const uint8_t *t = find_table("MCFG");

    if (!t || rd32(t + 4) < 44 + 16)
        return false;
    *base = rd64(t + 44);
    *segment = rd16(t + 52);
    *bus_first = t[54];
    *bus_last = t[55];
    return *base != 0 && *bus_last >= *bus_first;
}

/* The n-th MADT entry of `type`: its bytes, or NULL. */
static const uint8_t *madt_entry(uint8_t type, unsigned n, uint8_t min_len)
{
    const uint8_t *t = find_table("APIC");

    if (!t)
        return NULL;
    uint32_t len = rd32(t + 4);
    for (uint32_t off = 44; off + 2 <= len;) {
        const uint8_t *e = t + off;
        if (e[1] < 2 || off + e[1] > len)
            return NULL;
        if (e[0] == type && e[1] >= min_len && n-- == 0)
            return e;
        off += e[1];
    }
    return NULL;
}

bool acpi_lapic(uint64_t *addr)
{
    const uint8_t *t = find_table("APIC");

    if (!t)
        return false;
    *addr = rd32(t + 36);
    return true;
}

bool acpi_ioapic(unsigned n, uint64_t *addr, uint32_t *gsi_base)
{
    const uint8_t *e = madt_entry(MADT_IOAPIC, n, 12);

    if (!e)
        return false;
    *addr = rd32(e + 4);
    *gsi_base = rd32(e + 8);
    return true;
}

uint32_t acpi_isa_irq(unsigned irq, bool *edge, bool *low)
{
    const uint8_t *e;

    *edge = true;
    *low = false;
    for (unsigned i = 0; (e = madt_entry(MADT_OVERRIDE, i, 10)); i++) {
        if (e[2] != 0 || e[3] != irq)
            continue;
        uint16_t flags = rd16(e + 8);
        if ((flags & 3) == 3)
            *low = true;
        if (((flags >> 2) & 3) == 3)
            *edge = false;
        return rd32(e + 4);
    }
    return irq;
}

/* The first occurrence of `s` (n bytes) in [p, end), or NULL. */
static const uint8_t *find_bytes(const uint8_t *p, const uint8_t *end, const char *s, size_t n)
{
    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

/* \_S5's first element (SLP_TYPa); -1 if the DSDT has none we can read. */
static int s5_sleep_type(void)
{
    const uint8_t *d = find_table("DSDT");

    if (!d)
        return -1;
    const uint8_t *end = d + rd32(d + 4);
    const uint8_t *p = find_bytes(d + HDR_LEN, end, "_S5_", 4);
    if (!p || p + 8 > end || p[4] != AML_PACKAGE)
        return -1;
    p += 5;
    p += 1 + (*p >> 6); /* PkgLength: 1 to 4 bytes */
    p += 1;             /* NumElements */
    if (p + 2 > end)
        return -1;
    if (*p == AML_BYTE)
        return p[1];
    if (*p == AML_ZERO || *p == AML_ONE)
        return *p;
    return -1;
}

void acpi_power_off(void)
{
    const uint8_t *f = find_table("FACP");
    int slp = s5_sleep_type();

    if (!f || slp < 0)
        return;
    uint32_t len = rd32(f + 4);
    uint32_t pm1a = rd32(f + FADT_PM1A_CNT);
    if (pm1a && pm1a < 0x10000)
        outw((uint16_t)pm1a, (uint16_t)((slp & 7) << 10 | 1 << 13));
    if (len >= FADT_SLEEP_CTRL + 12 && (rd32(f + FADT_FLAGS) & FADT_HW_REDUCED)) {
        const uint8_t *gas = f + FADT_SLEEP_CTRL;
        uint64_t a = rd64(gas + 4);
        uint8_t v = (uint8_t)((slp & 7) << 2 | 1 << 5);
        if (gas[0] == 1 && a < 0x10000)
            outb((uint16_t)a, v);
        else if (gas[0] == 0 && a) {
            volatile uint8_t *r = ioremap(a, 1);
            if (r)
                *r = v;
        }
    }
}

bool acpi_virtio_mmio(unsigned n, uint64_t *addr, uint64_t *size, uint32_t *gsi, bool *edge,
                      bool *low)
{
    const uint8_t *d = find_table("DSDT");

    if (!d)
        return false;
    const uint8_t *end = d + rd32(d + 4);
    const uint8_t *p = d + HDR_LEN;
    size_t hl = sizeof(VIRTIO_MMIO_HID) - 1;
    while ((p = find_bytes(p, end, VIRTIO_MMIO_HID, hl))) {
        const uint8_t *next = find_bytes(p + hl, end, VIRTIO_MMIO_HID, hl);
        const uint8_t *stop = next ? next : end;
        const uint8_t *m = p + hl;
        const uint8_t *mem = NULL, *irq = NULL;
        for (; m + 4 <= stop && !(mem && irq); m++) {
            if (!mem && m + 12 <= stop && m[0] == RES_MEM32_FIXED && m[1] == 9 && m[2] == 0)
                mem = m;
            else if (mem && !irq && m + 9 <= stop && m[0] == RES_EXT_IRQ && m[2] == 0 &&
                     m[1] >= 6 && m[4] >= 1)
                irq = m;
        }
        p = stop;
        if (!mem || !irq)
            continue;
        if (n-- > 0)
            continue;
        *addr = rd32(mem + 4);
        *size = rd32(mem + 8);
        *gsi = rd32(irq + 5);
        *edge = irq[3] & 0x02; /* the descriptor's flags: edge, active low */
        *low = irq[3] & 0x04;
        return true;
    }
    return false;
}
