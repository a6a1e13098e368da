/*
 * The GICv3 Interrupt Translation Service (`arm,gic-v3-its`): MSIs as LPIs.
 * A device writes an event id to GITS_TRANSLATER; the ITS looks up the
 * writer's device id (on QEMU virt the PCI requester id, bus << 8 | devfn:
 * the host bridge's msi-map is the identity) in its device table, finds the
 * device's interrupt translation table (ITT), and raises the LPI that event
 * was mapped to, on the redistributor of the collection it names.
 *
 * Set up here, once: the redistributor's LPI configuration and pending
 * tables (LPIs 8192..16383), the ITS's device and collection tables (flat,
 * in DMA pages; QEMU keeps its entries there) and its command queue;
 * collection 0 on this CPU; ITTs for 16 devices. Per device on first use:
 * MAPD with an ITT of 64 events; per vector: MAPTI event -> the next free LPI. Enabling an LPI
 * sets its configuration byte, then INVALL and SYNC make the ITS read it.
 */
#include "gic_its.h"
#include "kernel.h"

#define GITS_CTLR 0x0000
#define GITS_TYPER 0x0008
#define GITS_CBASER 0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR 0x0090
#define GITS_BASER 0x0100 /* 8 of them, 64-bit */
#define GITS_TRANSLATER 0x10040
#define GITS_SIZE 0x20000

#define GICR_CTLR 0x0000
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078

#define BASER_VALID (1ull << 63)
#define BASER_TYPE(v) (((v) >> 56) & 7)
#define BASER_ENTRY_SIZE(v) ((((v) >> 48) & 0x1f) + 1)
#define BASER_TYPE_DEVICE 1
#define BASER_TYPE_COLLECTION 4

#define CMD_SYNC 0x05
#define CMD_MAPD 0x08
#define CMD_MAPC 0x09
#define CMD_MAPTI 0x0a
#define CMD_INVALL 0x0d

#define LPI_BASE 8192u
#define LPI_ID_BITS 14u                 /* IDs below 16384 */
#define LPI_COUNT ((1u << LPI_ID_BITS) - LPI_BASE)
#define LPI_PRIORITY 0xa0
#define EVENT_BITS 6u                   /* 64 events (vectors) per device */
#define DEVICE_IDS 4096u                /* device ids the flat table covers */
#define MAX_DEVICES 16
#define CMDQ_PAGES 1
#define CMD_SIZE 32

static volatile uint8_t *its;
static uint64_t its_phys;
static volatile uint8_t *rd;            /* this CPU's redistributor (RD_base) */
static uint64_t rd_target;              /* MAPC's RDbase field value */
static uint8_t *lpi_config;             /* one byte per LPI from LPI_BASE */
static uint8_t *cmdq;
static uint32_t cmd_next;               /* byte offset of the next command */
static unsigned itt_entry_size;
static uint64_t itt_pool;               /* MAX_DEVICES pages, one ITT each:
                                           taken at init, so a driver's DMA
                                           page count is not the ITS's */
static unsigned lpi_next;
static struct {
    uint32_t devid;
} devices[MAX_DEVICES];
static unsigned n_devices;

static uint64_t rd64(volatile uint8_t *b, uint32_t off)
{
    return *(volatile uint64_t *)(b + off);
}

static void wr64(volatile uint8_t *b, uint32_t off, uint64_t v)
{
    *(volatile uint64_t *)(b + off) = v;
}

/* Queue one command and wait (bounded) until the ITS has read it. */
static bool its_command(const uint64_t cmd[4])
{
    uint64_t *slot = (uint64_t *)(void *)(cmdq + cmd_next);

    for (unsigned i = 0; i < 4; i++)
        slot[i] = cmd[i];
    __asm__ volatile("dsb sy" ::: "memory");
    cmd_next = (cmd_next + CMD_SIZE) % (CMDQ_PAGES * PAGE_SIZE);
    wr64(its, GITS_CWRITER, cmd_next);
    for (unsigned i = 0; i < 1000000; i++)
        if ((rd64(its, GITS_CREADR) & 0xfffe0u) == cmd_next)
            return true;
    kprintf("levitate: interrupts: the ITS did not take command 0x%02llx (CREADR 0x%llx)\n",
            (unsigned long long)(cmd[0] & 0xff), (unsigned long long)rd64(its, GITS_CREADR));
    return false;
}

static bool its_sync(void)
{
    uint64_t c[4] = {CMD_SYNC, 0, rd_target << 16, 0};
    return its_command(c);
}

/* A flat table of `bytes` for GITS_BASER n (entries as the register says). */
static bool its_table(unsigned n, uint64_t val, size_t bytes)
{
    size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t phys;

    if (pages == 0 || pages > 256 || !dma_alloc_pages(pages, &phys))
        return false;
    /* Keep type and entry size (read-only); 4 KiB pages, flat, valid. */
    uint64_t keep = val & (0x7ull << 56 | 0x1full << 48);
    wr64(its, GITS_BASER + 8 * n, BASER_VALID | keep | phys | (pages - 1));
    return (rd64(its, GITS_BASER + 8 * n) & BASER_VALID) != 0;
}

static bool lpi_tables(void)
{
    uint64_t prop, pend;
    /* The pending table must be 64 KiB aligned: take 64 KiB more than it
     * needs and start at the first aligned page inside. */
    size_t pend_pages = (1u << LPI_ID_BITS) / 8 / PAGE_SIZE + 1;

    lpi_config = dma_alloc_pages(LPI_COUNT / PAGE_SIZE, &prop);
    uint8_t *p = dma_alloc_pages(pend_pages + 16, &pend);
    if (!lpi_config || !p)
        return false;
    pend = (pend + 0xffff) & ~0xffffull;
    wr64(rd, GICR_PROPBASER, prop | (LPI_ID_BITS - 1));
    wr64(rd, GICR_PENDBASER, pend);
    *(volatile uint32_t *)(rd + GICR_CTLR) |= 1u; /* EnableLPIs */
    return true;
}

bool its_init(const struct fdt *fdt, volatile uint8_t *redist, uint64_t redist_phys)
{
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;

    fdt_walk_begin(&w, fdt);
    if (fdt_walk_next_compatible(&w, "arm,gic-v3-its", &node) <= 0 ||
        fdt_node_reg(fdt, &node, 0, &addr, &size) != FDT_OK || size < GITS_SIZE)
        return false;
    its = ioremap(addr, GITS_SIZE);
    rd = redist;
    if (!its)
        return false;
    uint64_t typer = rd64(its, GITS_TYPER);
    itt_entry_size = (unsigned)((typer >> 4) & 0xf) + 1;
    unsigned devbits = (unsigned)((typer >> 13) & 0x1f) + 1;
    rd_target = (typer >> 19) & 1 ? redist_phys >> 16 : 0; /* PTA: address, else CPU 0 */
    if (!lpi_tables())
        return false;
    for (unsigned n = 0; n < 8; n++) {
        uint64_t v = rd64(its, GITS_BASER + 8 * n);
        size_t entries = BASER_TYPE(v) == BASER_TYPE_DEVICE
                             ? (devbits < 12 ? 1u << devbits : DEVICE_IDS)
                             : BASER_TYPE(v) == BASER_TYPE_COLLECTION ? 256 : 0;
        if (entries && !its_table(n, v, entries * BASER_ENTRY_SIZE(v)))
            return false;
    }
    uint64_t q;
    cmdq = dma_alloc_pages(CMDQ_PAGES, &q);
    if (!cmdq || !dma_alloc_pages(MAX_DEVICES, &itt_pool))
        return false;
    wr64(its, GITS_CBASER, BASER_VALID | q | (CMDQ_PAGES - 1));
    wr64(its, GITS_CWRITER, 0);
    *(volatile uint32_t *)(its + GITS_CTLR) = 1;
    uint64_t mapc[4] = {CMD_MAPC, 0, 1ull << 63 | rd_target << 16 | 0 /* ICID 0 */, 0};
    if (!its_command(mapc) || !its_sync())
        return false;
    its_phys = addr;
    return true;
}

bool its_ready(void)
{
    return its_phys != 0;
}

/* MAPD for a device id not seen before: an ITT of 2^EVENT_BITS events. */
static bool its_device(uint32_t devid)
{
    for (unsigned i = 0; i < n_devices; i++)
        if (devices[i].devid == devid)
            return true;
    if (n_devices == MAX_DEVICES || devid >= DEVICE_IDS ||
        (1u << EVENT_BITS) * itt_entry_size > PAGE_SIZE)
        return false;
    uint64_t itt = itt_pool + n_devices * PAGE_SIZE;
    uint64_t c[4] = {(uint64_t)devid << 32 | CMD_MAPD, EVENT_BITS - 1, 1ull << 63 | itt, 0};
    if (!its_command(c))
        return false;
    devices[n_devices++].devid = devid;
    return true;
}

int its_msi_line(uint32_t devid, uint32_t event, unsigned *irq, uint64_t *addr,
                 uint32_t *data)
{
    if (!its_ready() || event >= (1u << EVENT_BITS) || lpi_next == LPI_COUNT ||
        !its_device(devid))
        return -1;
    unsigned lpi = LPI_BASE + lpi_next;
    uint64_t c[4] = {(uint64_t)devid << 32 | CMD_MAPTI, (uint64_t)lpi << 32 | event, 0, 0};
    if (!its_command(c))
        return -1;
    lpi_next++;
    *irq = lpi;
    *addr = its_phys + GITS_TRANSLATER;
    *data = event;
    return 0;
}

bool its_is_lpi(unsigned irq)
{
    return irq >= LPI_BASE && irq < LPI_BASE + LPI_COUNT;
}

int its_unmask(unsigned lpi)
{
    if (!its_ready() || !its_is_lpi(lpi))
        return -1;
    lpi_config[lpi - LPI_BASE] = LPI_PRIORITY | 1;
    __asm__ volatile("dsb sy" ::: "memory");
    uint64_t c[4] = {CMD_INVALL, 0, 0 /* ICID 0 */, 0};
    return its_command(c) && its_sync() ? 0 : -1;
}
