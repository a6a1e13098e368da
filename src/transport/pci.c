/*
 * virtio-pci transport (VIRTIO 1.2, 4.1): modern through the virtio vendor
 * capabilities, legacy through the I/O BAR 0 register block.
 *
 * Nothing read from configuration space is used before it is checked: the
 * capability walk is bounded and refuses pointers into the header or out
 * of the 256-byte space, every structure must lie inside an implemented
 * BAR with at least the length the spec requires, and a queue's notify
 * address must lie inside the notify structure. Register access goes
 * through the accessors in pci_internal.h only (lvio_pci_cfg_read/write,
 * lvio_pci_reg_read/write), which also reach an I/O BAR through the HAL's
 * port_read/port_write on a CPU with a port space (x86). The two register interfaces are pci_modern.c and
 * pci_legacy.c; MSI-X, for both, is pci_msix.c.
 */
#include "pci_internal.h"

/* The standard capability list lives in [0x40, 0x100); each entry is at
 * least 4 bytes apart from the next, so a list longer than this loops. */
#define CAP_FIRST 0x40u
#define CAP_END 0x100u
#define CAP_MAX_WALK ((CAP_END - CAP_FIRST) / 4u)

void lvio_pci_region_config_read(struct lvio_device *dev, const struct lvio_pci_region *r,
                                 uint32_t off, unsigned width, uint8_t *out)
{
    if (!r->base || off + width > r->len) {
        memset(out, 0xff, width);
        return;
    }
    lvio_config_split(dev, lvio_pci_reg_read(dev, r, off, width), width, out);
}

void lvio_pci_region_config_write(struct lvio_device *dev, const struct lvio_pci_region *r,
                                  uint32_t off, unsigned width, const uint8_t *in)
{
    lvio_pci_reg_write(dev, r, off, width, lvio_config_join(dev, in, width));
}

static void dump_region(struct lvio_device *dev, const char *what,
                        const struct lvio_pci_region *r)
{
    if (r->base)
        lvio_log_dump(dev, "dump: pci   %-6s BAR %u + 0x%x, 0x%x bytes", what, r->bar, r->offset,
                      r->len);
    else
        lvio_log_dump(dev, "dump: pci   %-6s absent", what);
}

void lvio_pci_dump(struct lvio_device *dev)
{
    lvio_log_dump(dev, "dump: pci %02x:%02x.%x %04x:%04x, %s interface, command 0x%04x",
                  dev->transport_state.pci.bus, dev->transport_state.pci.device, dev->transport_state.pci.function,
                  lvio_pci_cfg_read(dev, LVIO_PCI_VENDOR_ID, 2), lvio_pci_cfg_read(dev, LVIO_PCI_DEVICE_ID, 2),
                  dev->legacy ? "legacy" : "modern", lvio_pci_cfg_read(dev, LVIO_PCI_COMMAND, 2));
    if (dev->legacy) {
        dump_region(dev, "legacy", &dev->transport_state.pci.legacy);
    } else {
        dump_region(dev, "common", &dev->transport_state.pci.common);
        dump_region(dev, "notify", &dev->transport_state.pci.notify);
        lvio_log_dump(dev, "dump: pci   notify_off_multiplier %u, %u queues",
                      dev->transport_state.pci.notify_mult,
                      lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_NUMQ, 2));
        dump_region(dev, "isr", &dev->transport_state.pci.isr);
        dump_region(dev, "device", &dev->transport_state.pci.devcfg);
    }
    lvio_pci_msix_dump(dev);
}

/* ---- probe ------------------------------------------------------------------- */

/* What the capability walk found: per structure type, the first usable
 * one, or why the last candidate was not usable. */
struct cap_found {
    struct lvio_pci_region r;
    bool seen;                  /* a candidate existed */
    char why[64];               /* why the last candidate was refused */
    uint32_t mult;              /* notify only */
};

static const char *const cap_names[] = {
    [LVIO_VIRTIO_PCI_CAP_COMMON_CFG] = "common",
    [LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG] = "notify",
    [LVIO_VIRTIO_PCI_CAP_ISR_CFG] = "isr",
    [LVIO_VIRTIO_PCI_CAP_DEVICE_CFG] = "device",
};

/* Minimum lengths (4.1.4): all of the common structure, one notify word,
 * the ISR byte, one byte of device configuration. */
static const uint32_t cap_min_len[] = {
    [LVIO_VIRTIO_PCI_CAP_COMMON_CFG] = sizeof(struct lvio_virtio_pci_common_cfg),
    [LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG] = 2,
    [LVIO_VIRTIO_PCI_CAP_ISR_CFG] = 1,
    [LVIO_VIRTIO_PCI_CAP_DEVICE_CFG] = 1,
};

/* Alignment of each structure (4.1.4): the common and device structures
 * are read in naturally aligned words, notify is written 16 bits at a
 * time, ISR is one byte. A misaligned register faults on Device memory. */
static const uint32_t cap_align[] = {
    [LVIO_VIRTIO_PCI_CAP_COMMON_CFG] = 4,
    [LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG] = 2,
    [LVIO_VIRTIO_PCI_CAP_ISR_CFG] = 1,
    [LVIO_VIRTIO_PCI_CAP_DEVICE_CFG] = 4,
};

/*
 * Check one structure's place (bar, offset, length) against the BARs the
 * caller gave and map it. Returns 0, or a reason in `why` (LVIO_E_LAYOUT)
 * or LVIO_E_INVAL if map_regs failed.
 */
int lvio_pci_region_map(struct lvio_device *dev, const struct lvio_pci_function *fn,
                        struct lvio_pci_region *r, uint32_t bar, uint32_t off, uint32_t len,
                        uint32_t min_len, uint32_t align, char *why, size_t why_size)
{
    const struct lvio_hal *hal = dev->hal;

    if (bar >= LVIO_PCI_NUM_BARS) {
        lvio_snprintf(why, why_size, "names BAR %u", bar);
        return LVIO_E_LAYOUT;
    }
    const struct lvio_pci_bar *b = &fn->bar[bar];
    if (b->size == 0) {
        lvio_snprintf(why, why_size, "is in BAR %u, which is not assigned", bar);
        return LVIO_E_LAYOUT;
    }
    if (len < min_len) {
        lvio_snprintf(why, why_size, "is 0x%x bytes, less than 0x%x", len, min_len);
        return LVIO_E_LAYOUT;
    }
    if ((uint64_t)off + len > b->size) {
        lvio_snprintf(why, why_size, "at BAR %u + 0x%x, 0x%x bytes, ends past the BAR (0x%llx)",
                      bar, off, len, (unsigned long long)b->size);
        return LVIO_E_LAYOUT;
    }
    uint64_t phys = b->phys + off;
    if (lvio_mod64(phys, align)) {
        lvio_snprintf(why, why_size, "is at 0x%llx, not %u-byte aligned",
                      (unsigned long long)phys, align);
        return LVIO_E_LAYOUT;
    }
    r->port = b->io && hal->port_read && hal->port_write;
    if (r->port) {
        /* Port space: the number stands in for the address (see hal.h),
         * so it must fit any pointer. */
        if (phys == 0 || phys > UINT32_MAX - len) {
            lvio_snprintf(why, why_size, "is in I/O BAR %u at port 0x%llx, not a usable port",
                          bar, (unsigned long long)phys);
            return LVIO_E_LAYOUT;
        }
        r->base = (volatile uint8_t *)(uintptr_t)phys;
    } else {
        r->base = hal->map_regs ? hal->map_regs(hal->ctx, phys, len)
                                : (volatile uint8_t *)(uintptr_t)phys;
    }
    if (!r->base) {
        lvio_snprintf(why, why_size, "could not be mapped (map_regs 0x%llx, 0x%x bytes)",
                      (unsigned long long)phys, len);
        return LVIO_E_INVAL;
    }
    r->len = len;
    r->bar = (uint8_t)bar;
    r->offset = off;
    return LVIO_OK;
}

/* One virtio vendor capability at `at`, `cap_len` bytes. */
static int cap_take(struct lvio_device *dev, const struct lvio_pci_function *fn, uint32_t at,
                    uint32_t cap_len, struct cap_found *found)
{
    uint32_t type = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_CFG_TYPE, 1);
    if (type < LVIO_VIRTIO_PCI_CAP_COMMON_CFG || type > LVIO_VIRTIO_PCI_CAP_DEVICE_CFG)
        return LVIO_OK; /* pci_cfg, shared memory, vendor: not needed */
    struct cap_found *f = &found[type];
    if (f->r.base)
        return LVIO_OK; /* the first usable one of each type wins (4.1.4) */
    f->seen = true;
    uint32_t need = type == LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG
                        ? (uint32_t)sizeof(struct lvio_virtio_pci_notify_cap)
                        : (uint32_t)sizeof(struct lvio_virtio_pci_cap);
    if (cap_len < need) {
        lvio_snprintf(f->why, sizeof f->why, "capability at 0x%02x is %u bytes, less than %u",
                      at, cap_len, need);
        return LVIO_OK;
    }
    uint32_t bar = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_BAR, 1);
    uint32_t off = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_OFFSET, 4);
    uint32_t len = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_LENGTH, 4);
    char why[48];
    int err = lvio_pci_region_map(dev, fn, &f->r, bar, off, len, cap_min_len[type],
                                  cap_align[type], why, sizeof why);
    if (err) {
        lvio_snprintf(f->why, sizeof f->why, "capability at 0x%02x %s", at, why);
        f->r.base = NULL;
        /* map_regs failed: the HAL's trouble, not the device's layout */
        return err == LVIO_E_INVAL ? lvio_fail(dev, err, "%s", f->why) : LVIO_OK;
    }
    if (type == LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG)
        f->mult = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
    return LVIO_OK;
}

/* A shared memory capability at `at`, `cap_len` bytes: kept when it lies
 * inside an assigned memory BAR, else logged and left out (it is no
 * reason to refuse the device). */
static void shm_take(struct lvio_device *dev, const struct lvio_pci_function *fn, uint32_t at,
                     uint32_t cap_len)
{
    struct lvio_pci_shm *s = &dev->transport_state.pci.shm[dev->transport_state.pci.nshm];
    uint32_t bar = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_BAR, 1);
    uint64_t off = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_OFFSET, 4) |
                   (uint64_t)lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP64_OFFSET_HI, 4) << 32;
    uint64_t len = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_LENGTH, 4) |
                   (uint64_t)lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP64_LENGTH_HI, 4) << 32;
    if (dev->transport_state.pci.nshm == LVIO_PCI_SHM_MAX ||
        cap_len < sizeof(struct lvio_virtio_pci_cap64))
        return;
    if (bar >= LVIO_PCI_NUM_BARS || fn->bar[bar].size == 0 || fn->bar[bar].io || len == 0 ||
        off > fn->bar[bar].size || len > fn->bar[bar].size - off) {
        lvio_log(dev, LVIO_LOG_WARN,
                 "shared memory capability at 0x%02x (BAR %u + 0x%llx, 0x%llx bytes) is not "
                 "inside a memory BAR: left out", at, bar, (unsigned long long)off,
                 (unsigned long long)len);
        return;
    }
    s->addr = fn->bar[bar].phys + off;
    s->len = len;
    s->id = (uint8_t)lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_ID, 1);
    dev->transport_state.pci.nshm++;
}

int lvio_pci_shm(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len)
{
    for (unsigned i = 0; i < dev->transport_state.pci.nshm; i++) {
        const struct lvio_pci_shm *s = &dev->transport_state.pci.shm[i];
        if (s->id == id) {
            *addr = s->addr;
            *len = s->len;
            return LVIO_OK;
        }
    }
    return LVIO_E_NODEV;
}

/* Walk the capability list, bounded; collect the virtio structures and
 * where the (first) MSI-X capability is. */
static int cap_walk(struct lvio_device *dev, const struct lvio_pci_function *fn,
                    struct cap_found *found, uint32_t *msix_at)
{
    if (!(lvio_pci_cfg_read(dev, LVIO_PCI_STATUS, 2) & LVIO_PCI_STATUS_CAP_LIST))
        return LVIO_OK; /* no list: a legacy-only device */
    uint32_t at = lvio_pci_cfg_read(dev, LVIO_PCI_CAPABILITY_LIST, 1) & ~3u;
    for (unsigned n = 0; at != 0; n++) {
        if (n == CAP_MAX_WALK)
            return lvio_fail(dev, LVIO_E_LAYOUT, "capability list loops (more than %u entries)",
                             CAP_MAX_WALK);
        if (at < CAP_FIRST || at + 2 > CAP_END)
            return lvio_fail(dev, LVIO_E_LAYOUT,
                             "capability pointer 0x%02x is outside 0x40..0xff", at);
        uint32_t id = lvio_pci_cfg_read(dev, at, 1);
        uint32_t next = lvio_pci_cfg_read(dev, at + 1, 1) & ~3u;
        if (id == LVIO_PCI_CAP_ID_MSIX && *msix_at == 0) { /* a function has one */
            *msix_at = at;
            if (lvio_pci_cfg_read(dev, at + LVIO_PCI_MSIX_MSG_CTRL, 2) & LVIO_PCI_MSIX_CTRL_ENABLE)
                dev->transport_state.pci.legacy_cfg = LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX; /* left on */
        }
        if (id == LVIO_PCI_CAP_ID_VNDR) {
            uint32_t cap_len = lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_LEN, 1);
            if (at + cap_len > CAP_END)
                return lvio_fail(dev, LVIO_E_LAYOUT,
                                 "capability at 0x%02x of %u bytes runs past 0xff", at,
                                 cap_len);
            if (lvio_pci_cfg_read(dev, at + LVIO_VIRTIO_PCI_CAP_CFG_TYPE, 1) ==
                LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG)
                shm_take(dev, fn, at, cap_len);
            int err = cap_take(dev, fn, at, cap_len, found);
            if (err)
                return err; /* with its message */
        }
        at = next;
    }
    return LVIO_OK;
}

/* Why the modern interface cannot be used, into `why`; 0 when it can. */
static bool modern_usable(struct cap_found *found, char *why, size_t size)
{
    static const uint8_t needed[] = {LVIO_VIRTIO_PCI_CAP_COMMON_CFG,
                                     LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG,
                                     LVIO_VIRTIO_PCI_CAP_ISR_CFG};
    for (unsigned i = 0; i < sizeof needed; i++) {
        struct cap_found *f = &found[needed[i]];
        if (f->r.base)
            continue;
        if (f->seen)
            lvio_snprintf(why, size, "%s %s", cap_names[needed[i]], f->why);
        else
            lvio_snprintf(why, size, "no %s capability", cap_names[needed[i]]);
        return false;
    }
    /* A device structure that was offered must be usable too. */
    struct cap_found *d = &found[LVIO_VIRTIO_PCI_CAP_DEVICE_CFG];
    if (d->seen && !d->r.base) {
        lvio_snprintf(why, size, "device %s", d->why);
        return false;
    }
    return true;
}

static bool pci_hal_ok(const struct lvio_hal *hal)
{
    return hal && hal->dma_alloc && hal->dma_free && hal->now_ns;
}

/* Vendor and device id: the virtio device type, or an error. */
static int pci_identify(struct lvio_device *dev, uint32_t *pci_id)
{
    uint32_t vendor = lvio_pci_cfg_read(dev, LVIO_PCI_VENDOR_ID, 2);
    uint32_t id = lvio_pci_cfg_read(dev, LVIO_PCI_DEVICE_ID, 2);

    *pci_id = id;
    if (vendor == 0xffff)
        return lvio_fail(dev, LVIO_E_NOT_VIRTIO, "no function here (vendor id 0xffff)");
    if (vendor != LVIO_PCI_VENDOR_ID_VIRTIO)
        return lvio_fail(dev, LVIO_E_NOT_VIRTIO, "vendor %04x device %04x is not virtio",
                         vendor, id);
    if (id >= LVIO_VIRTIO_PCI_ID_MODERN_BASE && id <= LVIO_VIRTIO_PCI_ID_MODERN_LAST)
        dev->device_id = id - LVIO_VIRTIO_PCI_ID_MODERN_BASE;
    else if (id >= LVIO_VIRTIO_PCI_ID_LEGACY_FIRST && id <= LVIO_VIRTIO_PCI_ID_LEGACY_LAST)
        dev->device_id = lvio_pci_cfg_read(dev, LVIO_PCI_SUBSYSTEM_ID, 2);
    else
        return lvio_fail(dev, LVIO_E_NOT_VIRTIO, "device id %04x is not a virtio device", id);
    dev->vendor_id = lvio_pci_cfg_read(dev, LVIO_PCI_SUBSYSTEM_ID - 2, 2); /* subsystem vendor */
    if (dev->device_id == 0)
        return lvio_fail(dev, LVIO_E_NOT_VIRTIO, "device id %04x names virtio type 0 (reserved)",
                         id);
    return LVIO_OK;
}

/* The legacy block: BAR 0, I/O space, the registers and some config. */
static int legacy_setup(struct lvio_device *dev, const struct lvio_pci_function *fn,
                        uint32_t pci_id, const char *modern_why)
{
    const struct lvio_pci_bar *b = &fn->bar[0];
    char why[64];

    if (pci_id > LVIO_VIRTIO_PCI_ID_LEGACY_LAST)
        return lvio_fail(dev, LVIO_E_LAYOUT, "modern device %04x: %s", pci_id, modern_why);
    if (!b->io || b->size < LVIO_VIRTIO_PCI_LEGACY_CONFIG)
        return lvio_fail(dev, LVIO_E_LAYOUT,
                         "%s, and BAR 0 is not a legacy I/O block (%s, 0x%llx bytes)",
                         modern_why, b->io ? "I/O" : "memory", (unsigned long long)b->size);
    uint32_t len = b->size > 0x10000 ? 0x10000 : (uint32_t)b->size;
    int err = lvio_pci_region_map(dev, fn, &dev->transport_state.pci.legacy, 0, 0, len,
                                  LVIO_VIRTIO_PCI_LEGACY_CONFIG, 4, why, sizeof why);
    if (err)
        return lvio_fail(dev, err, "legacy block %s", why);
    dev->phys = b->phys;
    dev->version = 1;
    dev->legacy = true;
    dev->ops = &lvio_pci_legacy_ops;
    return LVIO_OK;
}

int lvio_pci_probe(struct lvio_device *dev, const struct lvio_hal *hal,
                   const struct lvio_pci_function *fn)
{
    if (!dev)
        return LVIO_E_INVAL;
    memset(dev, 0, sizeof *dev);
    dev->hal = hal;
    dev->transport = LVIO_TRANSPORT_PCI;
    if (!fn) {
        lvio_snprintf(dev->name, sizeof dev->name, "pci@?");
        return lvio_fail(dev, LVIO_E_INVAL, "no function described (fn NULL)");
    }
    dev->transport_state.pci.cfg = fn->cfg;
    dev->transport_state.pci.cfg_size = fn->cfg_size;
    dev->transport_state.pci.segment = fn->segment;
    dev->transport_state.pci.bus = fn->bus;
    dev->transport_state.pci.device = fn->device;
    dev->transport_state.pci.function = fn->function;
    if (fn->segment)
        lvio_snprintf(dev->name, sizeof dev->name, "pci@%04x:%02x:%02x.%x", fn->segment,
                      fn->bus, fn->device, fn->function);
    else
        lvio_snprintf(dev->name, sizeof dev->name, "pci@%02x:%02x.%x", fn->bus, fn->device,
                      fn->function);
    if (!pci_hal_ok(hal))
        return lvio_fail(dev, LVIO_E_INVAL, "the HAL is NULL or lacks dma_alloc, dma_free "
                                            "or now_ns");
    if (!fn->cfg || (fn->cfg_size != LVIO_PCI_CFG_SPACE_SIZE && fn->cfg_size != 4096))
        return lvio_fail(dev, LVIO_E_INVAL, "configuration space %p of %u bytes (256 or 4096)",
                         (void *)(uintptr_t)fn->cfg, fn->cfg_size);
    if (fn->device > 31 || fn->function > 7)
        return lvio_fail(dev, LVIO_E_INVAL, "device %u function %u out of range", fn->device,
                         fn->function);

    uint32_t pci_id;
    int err = pci_identify(dev, &pci_id);
    if (err)
        return err;

    struct cap_found found[LVIO_VIRTIO_PCI_CAP_DEVICE_CFG + 1];
    memset(found, 0, sizeof found);
    dev->transport_state.pci.legacy_cfg = LVIO_VIRTIO_PCI_LEGACY_CONFIG;
    uint32_t msix_at = 0;
    err = cap_walk(dev, fn, found, &msix_at);
    if (err)
        return err;
    char why[80];
    if (!modern_usable(found, why, sizeof why)) {
        err = legacy_setup(dev, fn, pci_id, why);
        if (err)
            return err;
    } else {
        dev->transport_state.pci.common = found[LVIO_VIRTIO_PCI_CAP_COMMON_CFG].r;
        dev->transport_state.pci.notify = found[LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG].r;
        dev->transport_state.pci.notify_mult = found[LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG].mult;
        dev->transport_state.pci.isr = found[LVIO_VIRTIO_PCI_CAP_ISR_CFG].r;
        dev->transport_state.pci.devcfg = found[LVIO_VIRTIO_PCI_CAP_DEVICE_CFG].r;
        dev->phys = fn->bar[dev->transport_state.pci.common.bar].phys + dev->transport_state.pci.common.offset;
        dev->version = 2;
        dev->legacy = false;
        dev->ops = &lvio_pci_modern_ops;
    }

    /* The enumerator's job, but checked: without decoding every access
     * reads all-ones, without bus mastering the device cannot reach the
     * rings. */
    uint32_t cmd = lvio_pci_cfg_read(dev, LVIO_PCI_COMMAND, 2);
    uint32_t need = LVIO_PCI_COMMAND_MASTER;
    const struct lvio_pci_region *used[] = {&dev->transport_state.pci.common, &dev->transport_state.pci.notify,
                                            &dev->transport_state.pci.isr, &dev->transport_state.pci.devcfg,
                                            &dev->transport_state.pci.legacy};
    for (unsigned i = 0; i < sizeof used / sizeof used[0]; i++)
        if (used[i]->base)
            need |= fn->bar[used[i]->bar].io ? LVIO_PCI_COMMAND_IO : LVIO_PCI_COMMAND_MEMORY;
    if ((cmd & need) != need) {
        dev->ops = NULL;
        return lvio_fail(dev, LVIO_E_STATE,
                         "command register 0x%04x lacks 0x%x (%s%s%s)", cmd, need & ~cmd,
                         (need & ~cmd & LVIO_PCI_COMMAND_IO) ? "I/O decoding " : "",
                         (need & ~cmd & LVIO_PCI_COMMAND_MEMORY) ? "memory decoding " : "",
                         (need & ~cmd & LVIO_PCI_COMMAND_MASTER) ? "bus mastering" : "");
    }
    lvio_pci_msix_probe(dev, fn, msix_at);
    return LVIO_OK;
}

int lvio_pci_location(const struct lvio_device *dev, uint16_t *segment, uint8_t *bus,
                      uint8_t *device, uint8_t *function)
{
    if (!dev || dev->transport != LVIO_TRANSPORT_PCI || !dev->ops)
        return LVIO_E_INVAL;
    if (segment)
        *segment = dev->transport_state.pci.segment;
    if (bus)
        *bus = dev->transport_state.pci.bus;
    if (device)
        *device = dev->transport_state.pci.device;
    if (function)
        *function = dev->transport_state.pci.function;
    return LVIO_OK;
}
