/*
 * The plain register path: no reg_read / reg_write in the HAL, so the
 * library's own volatile loads and stores reach the registers. The device
 * here is a register file in memory laid out as the device lays it out
 * (every register little-endian), which reads back what was written, as
 * most virtio registers do. That is enough for a driver's whole init on
 * MMIO v1 and v2 and on modern PCI, and for checking the bytes the library
 * stored. On a big-endian CPU (make check-be) this is what fails when the
 * plain accesses do not convert: the magic reads as 0x76697274.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/lvio.h"

#define MMIO_PHYS 0x0a000000ull
#define BAR_PHYS 0x8000000000ull
#define BAR_SIZE 0x4000u

static _Alignas(4096) uint8_t regs[BAR_SIZE]; /* MMIO registers, or PCI BAR 4 */
static _Alignas(4096) uint8_t cfg[4096];      /* PCI configuration space */
static uint64_t clock_ns;
static int live_pages;

static void *dma_alloc(void *ctx, size_t pages, uint64_t *dev_addr)
{
    (void)ctx;
    void *p = aligned_alloc(4096, pages * 4096);
    assert_non_null(p);
    memset(p, 0, pages * 4096);
    *dev_addr = 0x0000001200000000ull + (uint64_t)(uintptr_t)p % 0x100000000ull;
    live_pages += (int)pages;
    return p;
}

static void dma_free(void *ctx, void *cpu, size_t pages, uint64_t dev_addr)
{
    (void)ctx;
    (void)dev_addr;
    live_pages -= (int)pages;
    free(cpu);
}

static uint64_t now_ns(void *ctx)
{
    (void)ctx;
    return clock_ns += 1000;
}

static volatile void *map_regs(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys == MMIO_PHYS && len <= sizeof regs)
        return regs;
    if (phys >= BAR_PHYS && phys + len <= BAR_PHYS + BAR_SIZE)
        return regs + (phys - BAR_PHYS);
    return NULL;
}

static const struct lvio_hal HAL = {
    .dma_alloc = dma_alloc,
    .dma_free = dma_free,
    .now_ns = now_ns,
    .map_regs = map_regs,
    /* no reg_read / reg_write: the library's plain accesses */
};

/* Little-endian stores and loads of the device's bytes, whatever the CPU. */
static void put(uint8_t *base, uint32_t off, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        base[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *base, uint32_t off, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)base[off + i] << (8 * i);
    return v;
}

static void mmio_device(uint32_t version)
{
    memset(regs, 0, sizeof regs);
    put(regs, LVIO_VIRTIO_MMIO_MAGIC_VALUE, LVIO_VIRTIO_MMIO_MAGIC, 4);
    put(regs, LVIO_VIRTIO_MMIO_VERSION, version, 4);
    put(regs, LVIO_VIRTIO_MMIO_DEVICE_ID, LVIO_VIRTIO_ID_RNG, 4);
    put(regs, LVIO_VIRTIO_MMIO_VENDOR_ID, 0x554d4551, 4);
    /* Read for either select: bit 0 of word 1 is VERSION_1. */
    put(regs, LVIO_VIRTIO_MMIO_DEVICE_FEATURES, version == 2 ? 1 : 0, 4);
    put(regs, LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX, 256, 4);
}

/* Probe and a driver's whole init through plain accesses, on both
 * versions; every register the library wrote holds little-endian bytes. */
static void test_mmio_init_through_plain_accesses(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        struct lvio_device dev;
        static struct lvio_rng rng;
        mmio_device(v);
        assert_int_equal(lvio_mmio_probe(&dev, &HAL, MMIO_PHYS, 0x200), 0);
        assert_int_equal(dev.version, v);
        assert_int_equal(dev.device_id, LVIO_VIRTIO_ID_RNG);
        assert_int_equal(dev.vendor_id, 0x554d4551);
        int err = lvio_rng_init(&rng, &dev);
        if (err)
            fail_msg("lvio_rng_init: %s: %s", lvio_errname(err), lvio_device_error(&dev));
        uint8_t want = LVIO_VIRTIO_STATUS_ACKNOWLEDGE | LVIO_VIRTIO_STATUS_DRIVER |
                       LVIO_VIRTIO_STATUS_DRIVER_OK |
                       (v == 2 ? LVIO_VIRTIO_STATUS_FEATURES_OK : 0);
        assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_STATUS, 4), want);
        assert_int_equal(lvio_device_status(&dev), want);
        assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_QUEUE_NUM, 4), rng.vq.size);
        if (v == 1) {
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_GUEST_PAGE_SIZE, 4), 4096);
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_QUEUE_PFN, 4), rng.vq.desc_addr / 4096);
        } else {
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_DRIVER_FEATURES, 4), 1); /* word 1 */
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW, 4) |
                                 get(regs, LVIO_VIRTIO_MMIO_QUEUE_DESC_HIGH, 4) << 32,
                             rng.vq.desc_addr);
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_QUEUE_USED_LOW, 4) |
                                 get(regs, LVIO_VIRTIO_MMIO_QUEUE_USED_HIGH, 4) << 32,
                             rng.vq.used_addr);
            assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_QUEUE_READY, 4), 1);
        }
        lvio_rng_teardown(&rng);
        assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_STATUS, 4), 0);
        assert_int_equal(live_pages, 0);
    }
}

/* Configuration through plain accesses: a modern device's bytes come back
 * as laid out (little-endian); a legacy device's 32-bit field comes back
 * as the guest's own number (a converting 32-bit read returns it). */
static void test_mmio_config_through_plain_accesses(void **state)
{
    (void)state;
    struct lvio_device dev;
    uint8_t b[4];
    uint32_t n;
    mmio_device(2);
    put(regs, LVIO_VIRTIO_MMIO_CONFIG, 0x04030201, 4);
    assert_int_equal(lvio_mmio_probe(&dev, &HAL, MMIO_PHYS, 0x200), 0);
    assert_int_equal(lvio_config_read(&dev, 0, b, 4), 0);
    assert_memory_equal(b, ((uint8_t[]){1, 2, 3, 4}), 4);
    mmio_device(1);
    put(regs, LVIO_VIRTIO_MMIO_CONFIG, 0x11223344, 4);
    assert_int_equal(lvio_mmio_probe(&dev, &HAL, MMIO_PHYS, 0x200), 0);
    assert_int_equal(lvio_config_read(&dev, 0, &n, 4), 0);
    assert_int_equal(n, 0x11223344);
    n = 0x55667788;
    assert_int_equal(lvio_config_write(&dev, 0, &n, 4), 0);
    assert_int_equal(get(regs, LVIO_VIRTIO_MMIO_CONFIG, 4), 0x55667788);
}

/* One virtio vendor capability at `at` (4.1.4), `len` bytes long. */
static void put_cap(uint32_t at, uint32_t next, uint8_t type, uint32_t off, uint32_t length,
                    uint8_t cap_len)
{
    put(cfg, at + 0, LVIO_PCI_CAP_ID_VNDR, 1);
    put(cfg, at + 1, next, 1);
    put(cfg, at + 2, cap_len, 1);
    put(cfg, at + 3, type, 1);
    put(cfg, at + 4, 4, 1); /* BAR 4 */
    put(cfg, at + 8, off, 4);
    put(cfg, at + 12, length, 4);
}

static void pci_modern_rng(void)
{
    memset(cfg, 0, sizeof cfg);
    memset(regs, 0, sizeof regs);
    put(cfg, LVIO_PCI_VENDOR_ID, LVIO_PCI_VENDOR_ID_VIRTIO, 2);
    put(cfg, LVIO_PCI_DEVICE_ID, 0x1040 + LVIO_VIRTIO_ID_RNG, 2);
    put(cfg, LVIO_PCI_COMMAND, LVIO_PCI_COMMAND_MEMORY | LVIO_PCI_COMMAND_MASTER, 2);
    put(cfg, LVIO_PCI_STATUS, LVIO_PCI_STATUS_CAP_LIST, 2);
    put(cfg, LVIO_PCI_SUBSYSTEM_ID - 2, 0x1af4, 2);
    put(cfg, LVIO_PCI_SUBSYSTEM_ID, LVIO_VIRTIO_ID_RNG, 2);
    put(cfg, LVIO_PCI_CAPABILITY_LIST, 0x40, 1);
    put_cap(0x40, 0x50, LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 0x0000, 0x38, 16);
    put_cap(0x50, 0x64, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 0x1000, 20);
    put(cfg, 0x60, 4, 4); /* notify_off_multiplier */
    put_cap(0x64, 0x74, LVIO_VIRTIO_PCI_CAP_ISR_CFG, 0x1000, 4, 16);
    put_cap(0x74, 0x00, LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, 0x2000, 0x100, 16);
    put(regs, LVIO_VIRTIO_PCI_COMMON_DF, 1, 4); /* word 1, bit 0: VERSION_1 */
    put(regs, LVIO_VIRTIO_PCI_COMMON_NUMQ, 1, 2);
    put(regs, LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 256, 2);
    put(regs, LVIO_VIRTIO_PCI_COMMON_Q_NOFF, 3, 2);
}

/* Modern PCI through plain accesses: configuration space and the common
 * structure in 8-, 16- and 32-bit little-endian accesses, probe and init. */
static void test_pci_init_through_plain_accesses(void **state)
{
    (void)state;
    struct lvio_pci_function fn = {
        .cfg = cfg, .cfg_size = 4096, .bus = 0, .device = 1, .function = 0,
        .bar = {[4] = {.phys = BAR_PHYS, .size = BAR_SIZE}},
    };
    struct lvio_device dev;
    static struct lvio_rng rng;
    pci_modern_rng();
    int err = lvio_pci_probe(&dev, &HAL, &fn);
    if (err)
        fail_msg("lvio_pci_probe: %s: %s", lvio_errname(err), lvio_device_error(&dev));
    assert_int_equal(dev.device_id, LVIO_VIRTIO_ID_RNG);
    assert_int_equal(dev.transport_state.pci.notify_mult, 4);
    assert_int_equal(dev.transport_state.pci.devcfg.len, 0x100);
    err = lvio_rng_init(&rng, &dev);
    if (err)
        fail_msg("lvio_rng_init: %s: %s", lvio_errname(err), lvio_device_error(&dev));
    assert_int_equal(get(regs, LVIO_VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
    assert_int_equal(get(regs, LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 2), rng.vq.size);
    assert_int_equal(get(regs, LVIO_VIRTIO_PCI_COMMON_Q_DESCLO, 4) |
                         get(regs, LVIO_VIRTIO_PCI_COMMON_Q_DESCHI, 4) << 32,
                     rng.vq.desc_addr);
    assert_int_equal(get(regs, LVIO_VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_int_equal(rng.vq.notify_off, 12);
    uint8_t buf[4];
    /* The device never answers here; a non-blocking read notifies it. */
    assert_int_equal(lvio_rng_read(&rng, buf, sizeof buf, 0), LVIO_E_AGAIN);
    assert_int_equal(get(regs, 0x3000 + 12, 2), 0); /* queue 0 notified */
    lvio_rng_teardown(&rng);
    assert_int_equal(live_pages, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmio_init_through_plain_accesses),
        cmocka_unit_test(test_mmio_config_through_plain_accesses),
        cmocka_unit_test(test_pci_init_through_plain_accesses),
    };
    return cmocka_run_group_tests_name("plain", tests, NULL, NULL);
}
