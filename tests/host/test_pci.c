/*
 * The virtio-pci transport against a simulated PCI function (sim_pci.h):
 * probing modern, transitional and legacy functions, every way a hostile
 * configuration space can be wrong, queue setup and notify addresses,
 * configuration reads, the ISR, the whole rng driver over both
 * interfaces, and MSI-X (vectors for rng and gpu, INTx fallbacks, sharing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim_pci.h"
#include "core/internal.h"

static struct sim_pci P;
static struct lvio_device D;
static struct lvio_rng R;
static struct lvio_virtqueue VQ, VQ1;

/* ---- helpers ---------------------------------------------------------------- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* `needle` in `hay`, ignoring case. */
static bool mentions(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* The device's error message names one of the (NULL-terminated) words. */
static void assert_error_names(const char *what, const char *word, ...)
{
    const char *msg = lvio_device_error(&D);
    va_list ap;
    va_start(ap, word);
    for (const char *w = word; w; w = va_arg(ap, const char *))
        if (mentions(msg, w)) {
            va_end(ap);
            return;
        }
    va_end(ap);
    fail_msg("%s: error message \"%s\" does not name \"%s\" (or the alternatives)", what, msg,
             word);
}

/* The probe fails with `err` and has touched nothing it should not: no
 * device register written, the ISR not read, no access outside
 * configuration space and the BARs (the model's error). */
static void expect_probe_fails(const char *what, int err)
{
    int r = sim_pci_probe(&P, &D);
    if (r != err)
        fail_msg("%s: probe returned %s (\"%s\"), expected %s", what, lvio_errname(r),
                 lvio_device_error(&D), lvio_errname(err));
    if (P.s.error[0])
        fail_msg("%s: the device model saw: %s", what, P.s.error);
    if (err != LVIO_E_INVAL && lvio_device_error(&D)[0] == '\0')
        fail_msg("%s: %s without a message", what, lvio_errname(err));
    assert_int_equal(P.dev_writes, 0);
    assert_int_equal(P.cfg_writes, 0);
    assert_int_equal(P.isr_reads, 0);
}

static void expect_probe_ok(const char *what)
{
    int r = sim_pci_probe(&P, &D);
    if (r != 0)
        fail_msg("%s: probe returned %s (\"%s\")", what, lvio_errname(r), lvio_device_error(&D));
    if (P.s.error[0])
        fail_msg("%s: the device model saw: %s", what, P.s.error);
}

static void modern_rng(void)
{
    sim_pci_init(&P, SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
}

/* Insert `c` into the capability list at position `at` (list order). */
static void insert_cap(unsigned at, struct sim_pci_cap c)
{
    assert_true(P.ncaps < SIM_PCI_MAX_CAPS && at <= P.ncaps);
    memmove(&P.caps[at + 1], &P.caps[at], (P.ncaps - at) * sizeof P.caps[0]);
    P.caps[at] = c;
    P.ncaps++;
}

static unsigned cap_index(uint8_t type)
{
    struct sim_pci_cap *c = sim_pci_cap(&P, type);
    assert_non_null(c);
    return (unsigned)(c - P.caps);
}

/* The model's bytes are 0, 1, 2, …: a read sees them in order. */
static void assert_sequence(const uint8_t *buf, size_t len, uint8_t first)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(first + i))
            fail_msg("byte %zu is %u, expected %u", i, buf[i], (uint8_t)(first + i));
}

/* Probe and begin; the device is then ready for queues. */
static void begin(void)
{
    expect_probe_ok("begin");
    assert_int_equal(lvio_device_begin(&D, 0), 0);
}

/* ---- probe: identity ----------------------------------------------------------- */

static void test_probe_modern_reads_identity_and_writes_nothing(void **state)
{
    (void)state;
    static const uint32_t types[] = {LVIO_VIRTIO_ID_RNG, LVIO_VIRTIO_ID_GPU};
    for (size_t i = 0; i < 2; i++) {
        sim_pci_init(&P, SIM_PCI_MODERN, types[i]);
        expect_probe_ok("modern");
        assert_int_equal(D.transport, LVIO_TRANSPORT_PCI);
        assert_int_equal(D.version, 2);
        assert_false(D.legacy);
        assert_int_equal(D.device_id, types[i]); /* from 0x1040 + type, not the subsystem id */
        assert_string_equal(D.name, "pci@00:02.0");
        assert_non_null(D.ops);
        assert_true(P.cfg_reads > 0);
        assert_int_equal(P.cfg_writes, 0);
        assert_int_equal(P.dev_writes, 0); /* the device is untouched until a driver's init */
        assert_int_equal(P.isr_reads, 0);  /* reading the ISR would acknowledge it */
        assert_int_equal(P.modern_accesses, 0); /* configuration space only */
        assert_int_equal(P.legacy_accesses, 0);
        /* The structures in BAR 4 and the MSI-X table (exactly), not the
         * PBA, not pci_cfg's BAR 0. */
        for (unsigned m = 0; m < P.nmaps; m++) {
            if (P.maps[m].bar == SIM_PCI_MSIX_BAR) {
                assert_int_equal(P.maps[m].phys, SIM_PCI_MSIX_PHYS);
                assert_int_equal(P.maps[m].len, 16u * P.msix_size);
                continue;
            }
            assert_int_equal(P.maps[m].bar, SIM_PCI_MODERN_BAR);
        }
        assert_int_equal(D.transport_state.pci.msix.table_size, P.msix_size);
        assert_non_null(D.transport_state.pci.msix.table.base);
    }
}

static void test_probe_name_carries_segment_only_when_not_zero(void **state)
{
    (void)state;
    modern_rng();
    P.fn.segment = 1;
    expect_probe_ok("segment 1");
    assert_string_equal(D.name, "pci@0001:00:02.0");

    modern_rng();
    P.fn.bus = 0x1f;
    P.fn.device = 0x1f;
    P.fn.function = 7;
    expect_probe_ok("bus 1f");
    assert_string_equal(D.name, "pci@1f:1f.7");

    modern_rng();
    P.fn.segment = 0xffff;
    P.fn.bus = 0xff;
    P.fn.device = 0x1f;
    P.fn.function = 7;
    expect_probe_ok("largest address");
    assert_string_equal(D.name, "pci@ffff:ff:1f.7");
}

/* lvio_pci_location: what the probe was given, for a kernel's MSI routing;
 * any out-pointer may be NULL; not a probed PCI device: LVIO_E_INVAL. */
static void test_location(void **state)
{
    (void)state;
    uint16_t seg = 0;
    uint8_t bus = 0, dev = 0, fn = 0;

    modern_rng();
    P.fn.segment = 3;
    P.fn.bus = 0x12;
    P.fn.device = 0x1e;
    P.fn.function = 5;
    expect_probe_ok("location");
    assert_int_equal(lvio_pci_location(&D, &seg, &bus, &dev, &fn), LVIO_OK);
    assert_int_equal(seg, 3);
    assert_int_equal(bus, 0x12);
    assert_int_equal(dev, 0x1e);
    assert_int_equal(fn, 5);
    assert_int_equal(lvio_pci_location(&D, NULL, NULL, NULL, NULL), LVIO_OK);
    assert_int_equal(lvio_pci_location(NULL, &seg, &bus, &dev, &fn), LVIO_E_INVAL);

    struct lvio_device other;
    memset(&other, 0, sizeof other);
    assert_int_equal(lvio_pci_location(&other, &seg, &bus, &dev, &fn), LVIO_E_INVAL);
    other.transport = LVIO_TRANSPORT_MMIO;
    other.ops = D.ops;
    assert_int_equal(lvio_pci_location(&other, &seg, &bus, &dev, &fn), LVIO_E_INVAL);
}

static void test_probe_transitional_uses_modern_interface(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_TRANSITIONAL, LVIO_VIRTIO_ID_RNG);
    expect_probe_ok("transitional");
    assert_int_equal(D.version, 2);
    assert_false(D.legacy);
    assert_int_equal(D.device_id, LVIO_VIRTIO_ID_RNG); /* from the subsystem id */
    assert_int_equal(P.legacy_accesses, 0);
    assert_int_equal(P.dev_writes, 0);
}

/* QEMU's disable-modern=on: a transitional id, no vendor capabilities (the
 * MSI-X capability is still there); and a function without any list. */
static void test_probe_legacy_only_uses_io_bar(void **state)
{
    (void)state;
    for (int no_list = 0; no_list <= 1; no_list++) {
        sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        if (no_list) {
            P.pci_status = 0;
            P.ncaps = 0;
            sim_pci_build(&P);
        }
        expect_probe_ok(no_list ? "legacy, no capability list" : "legacy");
        assert_int_equal(D.transport, LVIO_TRANSPORT_PCI);
        assert_int_equal(D.version, 1);
        assert_true(D.legacy);
        assert_int_equal(D.device_id, LVIO_VIRTIO_ID_RNG);
        assert_string_equal(D.name, "pci@00:02.0");
        assert_int_equal(P.dev_writes, 0);
        assert_int_equal(P.isr_reads, 0);
        assert_int_equal(P.legacy_accesses, 0); /* configuration space only */
    }
}

/* Conventional (256-byte) configuration space is enough for the list. */
static void test_probe_with_256_byte_config_space(void **state)
{
    (void)state;
    modern_rng();
    P.fn.cfg_size = 256;
    expect_probe_ok("cfg_size 256");
    assert_int_equal(D.version, 2);
}

/*
 * Capabilities the transport does not use are skipped, whatever they say:
 * pci_cfg naming a BAR that does not exist (QEMU's, on a modern-only
 * function), unknown and shared-memory types naming reserved or absent
 * BARs, other PCI capabilities; and of two common structures the first
 * usable one counts.
 */
static void test_probe_skips_capabilities_it_does_not_use(void **state)
{
    (void)state;
    modern_rng();
    struct sim_pci_cap unknown = {.pos = 0xa4, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 16,
                                  .cfg_type = 0x0b, .bar = 7, .offset = 0xfffffff0,
                                  .length = 0x100};
    struct sim_pci_cap shm = {.pos = 0xb4, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 24,
                              .cfg_type = LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, .bar = 2,
                              .offset = 0, .length = 0x100000};
    struct sim_pci_cap pm = {.pos = 0xcc, .id = 0x01}; /* power management */
    struct sim_pci_cap common2 = {.pos = 0xd4, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 16,
                                  .cfg_type = LVIO_VIRTIO_PCI_CAP_COMMON_CFG, .bar = 6,
                                  .offset = 0, .length = 0x38};
    insert_cap(0, unknown);
    insert_cap(2, pm);
    insert_cap(P.ncaps, shm);
    insert_cap(P.ncaps, common2);
    sim_pci_build(&P);
    expect_probe_ok("extra capabilities");
    assert_int_equal(D.version, 2);
    P.s.handler = sim_rng_handler;
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    uint8_t buf[8];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 8);
    assert_sequence(buf, sizeof buf, 0);
    lvio_rng_teardown(&R);
    assert_string_equal(P.s.error, "");
    assert_int_equal(P.s.live_pages, 0);
}

/* A capability naming a reserved BAR is ignored (4.1.4: "MUST ignore"); a
 * usable one of the same type later in the list is used. */
static void test_probe_uses_first_usable_structure_of_a_type(void **state)
{
    (void)state;
    modern_rng();
    struct sim_pci_cap bad = {.pos = 0xa4, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 16,
                              .cfg_type = LVIO_VIRTIO_PCI_CAP_COMMON_CFG, .bar = 7,
                              .offset = 0, .length = 0x38};
    insert_cap(1, bad); /* before the real one at 0x40 */
    sim_pci_build(&P);
    expect_probe_ok("reserved BAR first");
    P.s.handler = sim_rng_handler;
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    lvio_rng_teardown(&R);
    assert_string_equal(P.s.error, "");
    assert_int_equal(P.s.live_pages, 0);
}

/* The device structure is only required of devices with configuration
 * (4.1.4.6); rng has none. */
static void test_probe_without_device_config_structure(void **state)
{
    (void)state;
    modern_rng();
    sim_pci_drop_cap(&P, cap_index(LVIO_VIRTIO_PCI_CAP_DEVICE_CFG));
    sim_pci_build(&P);
    expect_probe_ok("no device cap");
    uint8_t buf[4] = {0};
    lvio_config_read(&D, 0, buf, sizeof buf); /* whatever it says, nothing is touched */
    assert_string_equal(P.s.error, "");
    P.s.handler = sim_rng_handler;
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 4);
    lvio_rng_teardown(&R);
    assert_string_equal(P.s.error, "");
}

static void test_probe_bad_arguments(void **state)
{
    (void)state;
    modern_rng();
    assert_int_equal(lvio_pci_probe(NULL, &P.s.hal, &P.fn), LVIO_E_INVAL);
    /* A probe that fails on its arguments still names the function and
     * says why (callers print both). */
    memset(&D, 0x5a, sizeof D);
    assert_int_equal(lvio_pci_probe(&D, NULL, &P.fn), LVIO_E_INVAL);
    assert_non_null(strstr(D.name, "pci@"));
    assert_non_null(strstr(lvio_device_error(&D), "HAL"));
    memset(&D, 0x5a, sizeof D);
    assert_int_equal(lvio_pci_probe(&D, &P.s.hal, NULL), LVIO_E_INVAL);
    assert_string_equal(D.name, "pci@?");
    assert_non_null(strstr(lvio_device_error(&D), "fn NULL"));
    struct lvio_hal h = P.s.hal;
    h.dma_alloc = NULL;
    assert_int_equal(lvio_pci_probe(&D, &h, &P.fn), LVIO_E_INVAL);
    h = P.s.hal;
    h.now_ns = NULL;
    assert_int_equal(lvio_pci_probe(&D, &h, &P.fn), LVIO_E_INVAL);

    P.fn.cfg = NULL;
    expect_probe_fails("cfg NULL", LVIO_E_INVAL);
    static const uint32_t sizes[] = {0, 64, 255, 512, 8192};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        modern_rng();
        P.fn.cfg_size = sizes[i];
        expect_probe_fails("cfg_size", LVIO_E_INVAL);
    }
    modern_rng();
    P.fn.device = 32;
    expect_probe_fails("device 32", LVIO_E_INVAL);
    modern_rng();
    P.fn.function = 8;
    expect_probe_fails("function 8", LVIO_E_INVAL);
}

static void test_probe_map_regs_failure(void **state)
{
    (void)state;
    modern_rng();
    P.fail_map = true;
    expect_probe_fails("map_regs NULL", LVIO_E_INVAL);
    assert_error_names("map_regs NULL", "map", NULL);
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.fail_map = true;
    expect_probe_fails("legacy map_regs NULL", LVIO_E_INVAL);
    assert_error_names("legacy map_regs NULL", "map", NULL);
}

/* ---- probe: not a virtio function ------------------------------------------------ */

static void test_probe_empty_slot_is_not_virtio(void **state)
{
    (void)state;
    modern_rng();
    memset(P.cfg, 0xff, sizeof P.cfg); /* what nothing decodes to */
    expect_probe_fails("vendor 0xffff", LVIO_E_NOT_VIRTIO);
    assert_error_names("vendor 0xffff", "ffff", NULL);
}

static void test_probe_foreign_ids_are_not_virtio(void **state)
{
    (void)state;
    static const struct {
        uint16_t vendor, device, subsys;
        const char *word;
    } cases[] = {
        {0x8086, 0x100e, 0, "8086"},  /* an e1000 */
        {0x1af4, 0x1110, 0, "1110"},  /* ivshmem: Red Hat's, not virtio */
        {0x1af4, 0x0fff, 0, "fff"},   /* just below the transitional range */
        {0x1af4, 0x1080, 0, "1080"},  /* just above the modern range */
        {0x1af4, 0x1040, 0, "1040"},  /* modern, device type 0 (reserved) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        P.vendor = cases[i].vendor;
        P.pci_device = cases[i].device;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_NOT_VIRTIO);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
    /* Transitional, type 0 in the subsystem id. */
    sim_pci_init(&P, SIM_PCI_TRANSITIONAL, LVIO_VIRTIO_ID_RNG);
    P.subsys_id = 0;
    sim_pci_build(&P);
    expect_probe_fails("transitional type 0", LVIO_E_NOT_VIRTIO);
}

/* ---- probe: decoding and bus mastering --------------------------------------------- */

static void test_probe_needs_decoding_and_bus_mastering(void **state)
{
    (void)state;
    static const struct {
        enum sim_pci_kind kind;
        uint16_t clear;
        const char *word;
    } cases[] = {
        {SIM_PCI_MODERN, LVIO_PCI_COMMAND_MEMORY, "memory"},
        {SIM_PCI_MODERN, LVIO_PCI_COMMAND_MASTER, "master"},
        {SIM_PCI_MODERN, 0xffff, "memory"},
        {SIM_PCI_LEGACY, LVIO_PCI_COMMAND_IO, "I/O"},
        {SIM_PCI_LEGACY, LVIO_PCI_COMMAND_MASTER, "master"},
        {SIM_PCI_TRANSITIONAL, LVIO_PCI_COMMAND_MEMORY, "memory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_pci_init(&P, cases[i].kind, LVIO_VIRTIO_ID_RNG);
        P.command &= (uint16_t)~cases[i].clear;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_STATE);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
    /* A transitional function driven through its modern interface does not
     * need I/O decoding. */
    sim_pci_init(&P, SIM_PCI_TRANSITIONAL, LVIO_VIRTIO_ID_RNG);
    P.command &= (uint16_t)~LVIO_PCI_COMMAND_IO;
    sim_pci_build(&P);
    expect_probe_ok("transitional without I/O decoding");
    assert_int_equal(D.version, 2);
}

/* ---- probe: hostile capability lists ------------------------------------------------ */

static void test_probe_capability_list_that_loops(void **state)
{
    (void)state;
    /* The common capability at 0x40 is the last; point it at itself, then
     * back at the head (0x98). */
    static const uint8_t targets[] = {0x40, 0x98, 0x70};
    for (size_t i = 0; i < sizeof targets; i++) {
        modern_rng();
        P.cfg[0x41] = targets[i];
        expect_probe_fails("loop", LVIO_E_LAYOUT);
        assert_error_names("loop", "loop", "cycle", "twice", "again", NULL);
    }
}

static void test_probe_capability_pointer_into_header(void **state)
{
    (void)state;
    modern_rng();
    P.cfg[LVIO_PCI_CAPABILITY_LIST] = 0x20;
    expect_probe_fails("head 0x20", LVIO_E_LAYOUT);
    assert_error_names("head 0x20", "0x20", NULL);

    modern_rng();
    P.cfg[0x99] = 0x3c; /* MSI-X's next */
    expect_probe_fails("next 0x3c", LVIO_E_LAYOUT);
    assert_error_names("next 0x3c", "0x3c", NULL);

    /* 0x3f with its reserved low bits masked is still 0x3c. */
    modern_rng();
    P.cfg[LVIO_PCI_CAPABILITY_LIST] = 0x3f;
    expect_probe_fails("head 0x3f", LVIO_E_LAYOUT);
    assert_error_names("head 0x3f", "0x3c", "0x3f", NULL);
}

/* PCI 3.0 (6.7): the low two bits of a capability pointer are reserved and
 * software masks them before use. */
static void test_probe_capability_pointer_low_bits_masked(void **state)
{
    (void)state;
    modern_rng();
    P.cfg[LVIO_PCI_CAPABILITY_LIST] = 0x98 | 3;
    P.cfg[0x99] = 0x84 | 1;
    expect_probe_ok("unaligned pointers");
    assert_int_equal(D.version, 2);
}

/* A capability whose body runs past the 256-byte header space. */
static void test_probe_capability_past_standard_space(void **state)
{
    (void)state;
    static const uint8_t types[] = {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG,
                                    LVIO_VIRTIO_PCI_CAP_COMMON_CFG};
    static const uint8_t pos[] = {0xf0, 0xfc};
    for (size_t i = 0; i < 2; i++) {
        modern_rng();
        P.fn.cfg_size = 256;
        sim_pci_cap(&P, types[i])->pos = pos[i];
        sim_pci_build(&P);
        expect_probe_fails("past 0x100", LVIO_E_LAYOUT);
        assert_error_names("past 0x100", i == 0 ? "0xf0" : "0xfc", NULL);
    }
}

static void test_probe_capability_too_short(void **state)
{
    (void)state;
    static const struct {
        uint8_t type, cap_len;
        const char *word;
    } cases[] = {
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 12, "common"},
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 0, "common"},
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 15, "isr"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 16, "notify"}, /* no room for the multiplier */
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 19, "notify"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        sim_pci_cap(&P, cases[i].type)->cap_len = cases[i].cap_len;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_LAYOUT);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
}

/* ---- probe: structures that do not fit their BAR ------------------------------------- */

static void test_probe_structure_in_reserved_or_absent_bar(void **state)
{
    (void)state;
    static const struct {
        uint8_t type, bar;
        const char *word;
    } cases[] = {
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 6, "common"},
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 7, "isr"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 2, "notify"},  /* BAR 2 not implemented */
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 5, "common"},  /* the upper half of 64-bit BAR 4 */
        {LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, 0, "device"},  /* no BAR 0 on a modern function */
        {LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, 255, "device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        sim_pci_cap(&P, cases[i].type)->bar = cases[i].bar;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_LAYOUT);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
}

static void test_probe_structure_past_bar_end(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint32_t offset, length;
        const char *word;
    } cases[] = {
        {LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, 0x3800, 0x1000, "0x3800"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 0x1002, "notify"},
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 0x4000, 1, "isr"},
        /* 32-bit sums that wrap to something small */
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 0xfffffff0, 0x20, "0xfffffff0"},
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 0xfffffff0, 0x40, "0xfffffff0"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 0xfffff000, "notify"},
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 0x10, 0xfffffff8, "isr"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        struct sim_pci_cap *c = sim_pci_cap(&P, cases[i].type);
        c->offset = cases[i].offset;
        c->length = cases[i].length;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_LAYOUT);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
    /* The enumerator gave BAR 4 less than the structures need. */
    modern_rng();
    P.fn.bar[SIM_PCI_MODERN_BAR].size = 0x2000;
    expect_probe_fails("BAR 4 of 8 KiB", LVIO_E_LAYOUT);
    assert_error_names("BAR 4 of 8 KiB", "notify", "device", NULL);
}

/* A register at an address its width does not divide faults on Device
 * memory: structures must be aligned for the accesses made to them. */
static void test_probe_misaligned_structure_refused(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint32_t offset;
        const char *word;
    } cases[] = {
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 0x0002, "not 4-byte aligned"},
        {LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, 0x2001, "not 4-byte aligned"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 0x2801, "not 2-byte aligned"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        sim_pci_cap(&P, cases[i].type)->offset = cases[i].offset;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_LAYOUT);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
    /* The ISR is one byte: any address will do. */
    modern_rng();
    sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_ISR_CFG)->offset = 0x1001;
    sim_pci_build(&P);
    assert_int_equal(sim_pci_probe(&P, &D), LVIO_OK);
}

static void test_probe_structure_too_small(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint32_t length;
        const char *word;
    } cases[] = {
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 0x30, "common"},
        {LVIO_VIRTIO_PCI_CAP_COMMON_CFG, 55, "common"},
        {LVIO_VIRTIO_PCI_CAP_ISR_CFG, 0, "isr"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 0, "notify"},
        {LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, 1, "notify"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        sim_pci_cap(&P, cases[i].type)->length = cases[i].length;
        sim_pci_build(&P);
        expect_probe_fails(cases[i].word, LVIO_E_LAYOUT);
        assert_error_names(cases[i].word, cases[i].word, NULL);
    }
}

static void test_probe_structure_missing(void **state)
{
    (void)state;
    static const uint8_t types[] = {LVIO_VIRTIO_PCI_CAP_COMMON_CFG,
                                    LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG,
                                    LVIO_VIRTIO_PCI_CAP_ISR_CFG};
    static const char *const words[] = {"common", "notify", "isr"};
    for (size_t i = 0; i < 3; i++) {
        modern_rng();
        sim_pci_drop_cap(&P, cap_index(types[i]));
        sim_pci_build(&P);
        expect_probe_fails(words[i], LVIO_E_LAYOUT);
        assert_error_names(words[i], words[i], NULL);
    }
    /* A modern id with no capability list at all. */
    modern_rng();
    P.pci_status = 0;
    sim_pci_build(&P);
    expect_probe_fails("no list", LVIO_E_LAYOUT);
    assert_error_names("no list", "capab", "common", NULL);
}

static void test_probe_legacy_bar_unusable(void **state)
{
    (void)state;
    static const struct {
        uint64_t size;
        bool io;
    } cases[] = {
        {0x10, true},   /* shorter than the registers */
        {0x13, true},
        {0x20, false},  /* a memory BAR */
        {0, true},      /* not assigned */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        P.fn.bar[0].size = cases[i].size;
        P.fn.bar[0].io = cases[i].io;
        expect_probe_fails("legacy BAR 0", LVIO_E_LAYOUT);
        assert_error_names("legacy BAR 0", "BAR 0", NULL);
    }
}

/* ---- modern queues ---------------------------------------------------------------------- */

/* Queue registers in the spec's order; with msix_route in the HAL, the
 * queue's MSI-X vector among them. */
static void check_queue_setup_order(bool msix)
{
    modern_rng();
    if (msix)
        P.s.hal.msix_route = sim_pci_msix_route;
    begin();
    sim_pci_clear_log(&P);
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), 0);
    /* QEMU's 1024 written down to what this build supports. */
    assert_int_equal(VQ.size, LVIO_VQ_MAX_SIZE);
    assert_int_equal(P.s.q[0].num, LVIO_VQ_MAX_SIZE);
    assert_int_equal(P.s.q[0].desc, VQ.desc_addr);
    assert_int_equal(P.s.q[0].avail, VQ.avail_addr);
    assert_int_equal(P.s.q[0].used, VQ.used_addr);
    assert_int_equal(P.s.q[0].ready, 1);

    int sel = sim_pci_find_access(&P, 0, true, LVIO_VIRTIO_PCI_COMMON_Q_SELECT);
    int size = sim_pci_find_access(&P, 0, true, LVIO_VIRTIO_PCI_COMMON_Q_SIZE);
    int en = sim_pci_find_access(&P, 0, true, LVIO_VIRTIO_PCI_COMMON_Q_ENABLE);
    assert_true(sel >= 0 && size > sel && en > size);
    assert_int_equal(P.log[size].value, LVIO_VQ_MAX_SIZE);
    assert_int_equal(P.log[sel].value, 0);
    static const uint16_t addrs[] = {
        LVIO_VIRTIO_PCI_COMMON_Q_DESCLO, LVIO_VIRTIO_PCI_COMMON_Q_DESCHI,
        LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO, LVIO_VIRTIO_PCI_COMMON_Q_AVAILHI,
        LVIO_VIRTIO_PCI_COMMON_Q_USEDLO, LVIO_VIRTIO_PCI_COMMON_Q_USEDHI,
    };
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        int w = sim_pci_find_access(&P, 0, true, addrs[i]);
        assert_true(w > sel && w < en);
    }
    /* Enable is read back after it was written, and nothing after it. */
    assert_true(sim_pci_find_access(&P, (unsigned)en + 1, false,
                                    LVIO_VIRTIO_PCI_COMMON_Q_ENABLE) > en);
    /* With MSI-X the queue's vector is written after the select and read
     * back before the queue is enabled; without msix_route, none is. */
    int vec = sim_pci_find_access(&P, 0, true, LVIO_VIRTIO_PCI_COMMON_Q_MSIX);
    if (msix) {
        assert_true(vec > sel && vec < en);
        assert_int_equal(P.log[vec].value, 1);
        int back = sim_pci_find_access(&P, (unsigned)vec, false, LVIO_VIRTIO_PCI_COMMON_Q_MSIX);
        assert_true(back > vec && back < en);
        assert_int_equal(VQ.msix_vector, 1);
    } else {
        assert_int_equal(vec, -1);
        assert_int_equal(P.msix_vector_writes, 0);
        assert_int_equal(VQ.msix_vector, LVIO_VIRTIO_MSI_NO_VECTOR);
    }

    assert_int_equal(lvio_device_driver_ok(&D), 0);
    assert_string_equal(P.s.error, "");
    lvio_device_reset(&D);
    lvio_vq_teardown(&VQ);
    assert_int_equal(P.s.live_pages, 0);
}

static void test_modern_queue_setup_order(void **state)
{
    (void)state;
    check_queue_setup_order(false);
    check_queue_setup_order(true);
}

static void test_modern_queue_size_from_device_and_driver(void **state)
{
    (void)state;
    modern_rng();
    P.s.q[0].num_max = 8; /* QEMU's rng */
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), 0);
    assert_int_equal(VQ.size, 8);
    assert_int_equal(P.s.q[0].num, 8);
    assert_int_equal(lvio_vq_setup(&VQ1, &D, 1, 16), 0); /* the driver asks for fewer */
    assert_int_equal(VQ1.size, 16);
    assert_int_equal(P.s.q[1].num, 16);
    assert_string_equal(P.s.error, "");
    lvio_device_reset(&D);
    lvio_vq_teardown(&VQ);
    lvio_vq_teardown(&VQ1);
    assert_int_equal(P.s.live_pages, 0);
}

static void test_modern_queue_missing(void **state)
{
    (void)state;
    modern_rng();
    P.s.q[1].num_max = 0;
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 1, 0), LVIO_E_QUEUE);
    assert_true(lvio_device_error(&D)[0] != '\0');
    assert_int_equal(lvio_vq_setup(&VQ, &D, 3, 0), LVIO_E_QUEUE); /* beyond num_queues */
    assert_int_equal(P.s.live_pages, 0);
    assert_string_equal(P.s.error, "");
}

/* A queue the device says is enabled after the reset is not ours: no
 * write may reach its registers. */
static void test_modern_queue_already_enabled(void **state)
{
    (void)state;
    modern_rng();
    P.stuck_queues = 1u << 0;
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), LVIO_E_QUEUE);
    assert_int_equal(P.s.live_pages, 0);
    assert_string_equal(P.s.error, ""); /* nothing written while enabled */
    assert_error_names("queue enabled", "enabled", "in use", NULL);
}

/* Set up queues 0 and 1, DRIVER_OK, and make one request on `vq`. */
static void one_request(struct lvio_virtqueue *vq)
{
    uint64_t addr;
    void *page = P.s.hal.dma_alloc(P.s.hal.ctx, 1, &addr);
    assert_non_null(page);
    struct lvio_sg in = {addr, 64};
    void *token;
    uint32_t len;
    assert_int_equal(lvio_vq_add(vq, NULL, 0, &in, 1, page), 0);
    assert_int_equal(lvio_vq_kick(vq), 0);
    assert_int_equal(lvio_vq_wait(vq, 1000000, &token, &len), 0);
    assert_ptr_equal(token, page);
    P.s.hal.dma_free(P.s.hal.ctx, page, 1, addr);
}

static void two_queues_up(void)
{
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 8), 0);
    assert_int_equal(lvio_vq_setup(&VQ1, &D, 1, 8), 0);
    assert_int_equal(lvio_device_driver_ok(&D), 0);
}

static void two_queues_down(void)
{
    assert_string_equal(P.s.error, "");
    lvio_device_reset(&D);
    lvio_vq_teardown(&VQ);
    lvio_vq_teardown(&VQ1);
    assert_int_equal(P.s.live_pages, 0);
}

/* The notify address is base + queue_notify_off * multiplier, whatever the
 * queue's index (the model refuses a notify anywhere else). */
static void test_notify_address_from_queue_notify_off(void **state)
{
    (void)state;
    modern_rng();
    P.notify_off[0] = 5;
    P.notify_off[1] = 0;
    two_queues_up();
    one_request(&VQ);
    assert_int_equal(P.last_notify_queue, 0);
    assert_int_equal(P.last_notify_off, 5 * SIM_PCI_NOTIFY_MULT);
    one_request(&VQ1);
    assert_int_equal(P.last_notify_queue, 1);
    assert_int_equal(P.last_notify_off, 0);
    two_queues_down();
}

static void test_notify_multiplier_zero_shares_one_address(void **state)
{
    (void)state;
    modern_rng();
    sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG)->mult = 0;
    sim_pci_build(&P);
    P.notify_off[0] = 3;
    P.notify_off[1] = 7;
    two_queues_up();
    one_request(&VQ);
    assert_int_equal(P.last_notify_off, 0);
    one_request(&VQ1);
    assert_int_equal(P.last_notify_queue, 1);
    assert_int_equal(P.last_notify_off, 0);
    assert_int_equal(P.s.notifies, 2);
    two_queues_down();
}

/* The last two bytes of the notify structure are a valid address. */
static void test_notify_at_end_of_structure(void **state)
{
    (void)state;
    modern_rng();
    struct sim_pci_cap *n = sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG);
    n->length = 0x10;
    n->mult = 2;
    sim_pci_build(&P);
    P.notify_off[0] = 7; /* 14 + 2 == 16 */
    two_queues_up();
    one_request(&VQ);
    assert_int_equal(P.last_notify_off, 14);
    two_queues_down();
}

static void test_notify_outside_structure_refused(void **state)
{
    (void)state;
    static const struct {
        uint32_t length, mult;
        uint16_t noff;
    } cases[] = {
        {0x10, 4, 4},             /* 16 + 2 > 16 */
        {0x10, 2, 8},
        {0x1000, 4, 0x400},       /* QEMU's size, one queue too far */
        {0x1000, 0x80000000u, 2}, /* 2^32: wraps to 0 in 32 bits */
        {0x1000, 0x40000000u, 4},
        {0x1000, 0xffffffffu, 0xffff},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        modern_rng();
        struct sim_pci_cap *n = sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG);
        n->length = cases[i].length;
        n->mult = cases[i].mult;
        sim_pci_build(&P);
        P.notify_off[0] = cases[i].noff;
        begin();
        int r = lvio_vq_setup(&VQ, &D, 0, 0);
        if (r != LVIO_E_LAYOUT)
            fail_msg("case %zu: vq_setup returned %s (\"%s\")", i, lvio_errname(r),
                     lvio_device_error(&D));
        assert_error_names("notify", "notify", NULL);
        assert_int_equal(P.s.q[0].ready, 0);
        assert_int_equal(P.s.live_pages, 0);
        assert_string_equal(P.s.error, "");
    }
}

/* An odd notify offset (multiplier 1, queue_notify_off 1) would make the
 * 16-bit notify write unaligned. */
static void test_notify_odd_address_refused(void **state)
{
    (void)state;
    modern_rng();
    sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG)->mult = 1;
    sim_pci_build(&P);
    P.notify_off[0] = 1;
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), LVIO_E_LAYOUT);
    assert_error_names("odd notify", "is odd", NULL);
    assert_int_equal(P.s.q[0].ready, 0);
    assert_int_equal(P.s.live_pages, 0);
    assert_string_equal(P.s.error, "");
}

/* ---- legacy queues ------------------------------------------------------------------------- */

/* A legacy queue's size is the device's: a driver asking for fewer still
 * lays the ring out for the fixed size, or the device would look for the
 * avail and used rings elsewhere. */
static void test_legacy_queue_uses_fixed_size(void **state)
{
    (void)state;
    static const struct {
        uint32_t num;
        uint16_t ask;
    } cases[] = {{8, 4}, {8, 0}, {64, 0}, {256, 16}, {1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        P.s.q[0].num_max = cases[i].num;
        begin();
        assert_int_equal(lvio_vq_setup(&VQ, &D, 0, cases[i].ask), 0);
        assert_int_equal(VQ.size, cases[i].num);
        assert_int_equal((uint64_t)P.s.q[0].pfn << 12, VQ.desc_addr);
        assert_int_equal(P.s.q[0].avail, VQ.avail_addr);
        assert_int_equal(P.s.q[0].used, VQ.used_addr);
        assert_int_equal(VQ.used_addr % 4096, 0);
        assert_string_equal(P.s.error, "");
        lvio_device_reset(&D);
        lvio_vq_teardown(&VQ);
        assert_int_equal(P.s.live_pages, 0);
    }
}

static void test_legacy_queue_size_unusable(void **state)
{
    (void)state;
    static const struct {
        uint32_t num;
        const char *word;
    } cases[] = {{512, "512"}, {1024, "1024"}, {100, "100"}, {3, "3"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        P.s.q[0].num_max = cases[i].num;
        begin();
        assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), LVIO_E_QUEUE);
        assert_error_names(cases[i].word, cases[i].word, NULL);
        assert_int_equal(P.s.q[0].pfn, 0);
        assert_int_equal(P.s.live_pages, 0);
        assert_string_equal(P.s.error, "");
    }
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.s.q[1].num_max = 0;
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 1, 0), LVIO_E_QUEUE);
    assert_int_equal(P.s.live_pages, 0);
}

static void test_legacy_queue_already_in_use(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.stuck_queues = 1u << 0;
    begin();
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), LVIO_E_QUEUE);
    assert_int_equal(P.s.q[0].pfn, 0x12345); /* not overwritten */
    assert_int_equal(P.s.live_pages, 0);
    assert_string_equal(P.s.error, "");
    assert_error_names("queue in use", "enabled", "in use", NULL);
}

/* ---- features, status -------------------------------------------------------------------------- */

static void test_begin_negotiates_over_each_interface(void **state)
{
    (void)state;
    modern_rng();
    P.s.features |= (1ull << LVIO_VIRTIO_F_ACCESS_PLATFORM) | (1ull << 3) | (1ull << 40);
    expect_probe_ok("modern");
    assert_int_equal(lvio_device_begin(&D, (1ull << 3) | (1ull << LVIO_VIRTIO_F_RING_PACKED)), 0);
    /* QEMU's rng offers EVENT_IDX and INDIRECT_DESC, which the core takes. */
    uint64_t want = (1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_ACCESS_PLATFORM) |
                    (P.s.features & ((1ull << LVIO_VIRTIO_F_EVENT_IDX) |
                                     (1ull << LVIO_VIRTIO_F_INDIRECT_DESC))) |
                    (1ull << 3);
    assert_int_equal(D.features_offered, P.s.features); /* both words read */
    assert_int_equal(D.features_accepted, want);
    assert_int_equal(P.s.driver_features, want);
    assert_true(P.s.status & LVIO_VIRTIO_STATUS_FEATURES_OK);
    assert_string_equal(P.s.error, "");

    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.s.features |= 1ull << 1;
    expect_probe_ok("legacy");
    assert_int_equal(lvio_device_begin(&D, 1ull << 1), 0);
    assert_int_equal(P.s.driver_features,
                     (1ull << 1) | (P.s.features & ((1ull << LVIO_VIRTIO_F_EVENT_IDX) |
                                                    (1ull << LVIO_VIRTIO_F_INDIRECT_DESC))));
    assert_int_equal(P.s.status, LVIO_VIRTIO_STATUS_ACKNOWLEDGE | LVIO_VIRTIO_STATUS_DRIVER);
    assert_string_equal(P.s.error, "");
}

static void test_features_refused_over_pci(void **state)
{
    (void)state;
    modern_rng();
    P.s.refuse_features = true;
    expect_probe_ok("modern");
    assert_int_equal(lvio_device_begin(&D, 0), LVIO_E_FEATURES);
    assert_true(P.s.status & LVIO_VIRTIO_STATUS_FAILED);
    assert_string_equal(P.s.error, "");
}

static void test_reset_bounded_over_pci(void **state)
{
    (void)state;
    modern_rng();
    expect_probe_ok("modern");
    P.s.reset_delay = 50;
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    P.s.reset_delay = UINT32_MAX;
    assert_int_equal(lvio_device_begin(&D, 0), LVIO_E_DEAD);
    assert_error_names("reset", "reset", NULL);
}

/* ---- configuration, ISR ---------------------------------------------------------------------- */

static void test_modern_config_read_under_generation(void **state)
{
    (void)state;
    modern_rng();
    for (unsigned i = 0; i < sizeof P.s.config; i++)
        P.s.config[i] = (uint8_t)(0x10 + i);
    expect_probe_ok("modern");
    uint8_t buf[7];
    P.s.generation_flips = 3; /* settles after a few rereads */
    assert_int_equal(lvio_config_read(&D, 1, buf, sizeof buf), 0);
    for (unsigned i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0x11 + i);
    assert_true(sim_pci_find_access(&P, 0, false, LVIO_VIRTIO_PCI_COMMON_CFGGENERATION) >= 0);
    P.s.generation_flips = UINT32_MAX; /* never settles */
    assert_int_equal(lvio_config_read(&D, 0, buf, 4), LVIO_E_CONFIG);
    P.s.generation_flips = 0;
    uint8_t word[4];
    assert_int_equal(lvio_config_read(&D, 8, word, 4), 0);
    assert_int_equal(word[0], 0x18);
    assert_int_equal(word[3], 0x1b);
    assert_string_equal(P.s.error, "");
    assert_int_equal(P.dev_writes, 0);
}

static void test_legacy_config_read_after_registers(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.fn.bar[0].size = 0x40;
    for (unsigned i = 0; i < sizeof P.s.config; i++)
        P.s.config[i] = (uint8_t)(0x20 + i);
    expect_probe_ok("legacy");
    uint8_t buf[9];
    assert_int_equal(lvio_config_read(&D, 0, buf, sizeof buf), 0);
    for (unsigned i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0x20 + i);
    uint8_t v[4] = {1, 2, 3, 4};
    assert_int_equal(lvio_config_write(&D, 4, v, 4), 0);
    assert_memory_equal(&P.s.config[4], v, 4);
    assert_string_equal(P.s.error, "");
}

/* With MSI-X left enabled (by firmware), legacy configuration starts at
 * 0x18, after the two vector registers (4.1.4.8). */
static void test_legacy_config_moves_when_msix_enabled(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.fn.bar[0].size = 0x40;
    P.msix_enabled = true;
    sim_pci_build(&P);
    for (unsigned i = 0; i < sizeof P.s.config; i++)
        P.s.config[i] = (uint8_t)(0x40 + i);
    expect_probe_ok("legacy, MSI-X on");
    uint8_t buf[4];
    assert_int_equal(lvio_config_read(&D, 0, buf, sizeof buf), 0);
    assert_int_equal(buf[0], 0x40);
    assert_int_equal(buf[3], 0x43);
    assert_string_equal(P.s.error, "");
}

/* Reads and writes beyond the configuration structure never reach past it
 * (the model sees any access outside a structure). */
static void test_config_access_stays_inside_structure(void **state)
{
    (void)state;
    uint8_t buf[16];
    modern_rng();
    sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_DEVICE_CFG)->length = 0x10;
    sim_pci_build(&P);
    for (unsigned i = 0; i < sizeof P.s.config; i++)
        P.s.config[i] = (uint8_t)(0x10 + i);
    expect_probe_ok("modern, 16 bytes of config");
    int r = lvio_config_read(&D, 8, buf, 16);
    if (r == 0) {
        assert_int_equal(buf[0], 0x18); /* the part inside still reads */
        assert_int_equal(buf[7], 0x1f);
    }
    lvio_config_read(&D, 0x10, buf, 4);
    lvio_config_read(&D, 4096, buf, 4);
    lvio_config_read(&D, 4094, buf, 4);
    uint8_t v[8] = {0};
    lvio_config_write(&D, 12, v, 8);
    assert_string_equal(P.s.error, "");

    /* QEMU's 4 KiB structure: the notify structure starts right after. */
    modern_rng();
    expect_probe_ok("modern");
    lvio_config_read(&D, 0xffc, buf, 8);
    lvio_config_read(&D, 0xfff, buf, 2);
    lvio_config_write(&D, 0xffe, v, 4);
    assert_string_equal(P.s.error, "");

    /* Legacy: BAR 0 of 0x20 leaves 12 bytes of configuration. */
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    expect_probe_ok("legacy");
    lvio_config_read(&D, 8, buf, 8);
    lvio_config_read(&D, 12, buf, 4);
    lvio_config_read(&D, 4096, buf, 4);
    lvio_config_write(&D, 10, v, 4);
    lvio_config_write(&D, 4095, v, 1);
    assert_string_equal(P.s.error, "");
}

static void test_isr_read_acknowledges_both_interfaces(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 2; i++) {
        sim_pci_init(&P, kinds[i], LVIO_VIRTIO_ID_RNG);
        expect_probe_ok("isr");
        P.s.isr = 3;
        assert_int_equal(lvio_device_isr(&D), 3);
        assert_int_equal(P.s.isr, 0);
        assert_int_equal(lvio_device_isr(&D), 0);
        assert_int_equal(P.isr_reads, 2);
        assert_string_equal(P.s.error, "");
    }
}

/* ---- the rng driver over PCI -------------------------------------------------------------------- */

static void rng_over(enum sim_pci_kind kind)
{
    sim_pci_init(&P, kind, LVIO_VIRTIO_ID_RNG);
    P.s.handler = sim_rng_handler;
    if (kind == SIM_PCI_LEGACY)
        P.s.q[0].num_max = 8; /* QEMU's rng: fixed at 8, more than the driver's 4 slots */
    expect_probe_ok("rng");
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_true(P.s.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
    if (kind == SIM_PCI_LEGACY)
        assert_int_equal(R.vq.size, 8);

    uint8_t buf[32];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 32);
    assert_sequence(buf, sizeof buf, 0);
    assert_true(lvio_device_isr(&D) & LVIO_VIRTIO_ISR_QUEUE);
    assert_int_equal(lvio_device_isr(&D), 0); /* the read acknowledged it */

    static uint8_t big[5000];
    assert_int_equal(lvio_rng_read(&R, big, sizeof big, 1000000000), (int)sizeof big);
    assert_sequence(big, sizeof big, 32);

    lvio_rng_teardown(&R);
    assert_int_equal(P.s.status, 0);
    assert_int_equal(P.s.live_pages, 0); /* every DMA page came back */

    /* Again, on the same probe. */
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_int_equal(lvio_rng_read(&R, buf, 8, 1000000000), 8);
    assert_sequence(buf, 8, (uint8_t)(32 + sizeof big));
    lvio_rng_teardown(&R);
    assert_int_equal(P.s.live_pages, 0);
    /* The HAL has no msix_route: INTx, MSI-X left off, no vector written. */
    assert_int_equal(D.irq_mode, LVIO_IRQ_INTX);
    assert_int_equal(P.msix_vector_writes, 0);
    assert_int_equal(P.cfg_writes, 0);
    assert_string_equal(P.s.error, "");
}

static void test_rng_over_modern_pci(void **state)
{
    (void)state;
    rng_over(SIM_PCI_MODERN);
    assert_int_equal(P.legacy_accesses, 0);
}

static void test_rng_over_transitional_pci_never_touches_legacy(void **state)
{
    (void)state;
    rng_over(SIM_PCI_TRANSITIONAL);
    assert_int_equal(P.legacy_accesses, 0);
    assert_true(P.modern_accesses > 0);
}

static void test_rng_over_legacy_pci(void **state)
{
    (void)state;
    rng_over(SIM_PCI_LEGACY);
    assert_int_equal(P.modern_accesses, 0);
    assert_true(P.legacy_accesses > 0);
}

/* Two functions at once, one of each interface: no shared state. */
static void test_two_pci_functions_at_once(void **state)
{
    (void)state;
    static struct sim_pci p2;
    static struct lvio_device d2;
    static struct lvio_rng r2;
    sim_pci_init(&P, SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
    P.s.handler = sim_rng_handler;
    sim_pci_init(&p2, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    p2.s.handler = sim_rng_handler;
    p2.s.rng_byte = 100;
    p2.s.q[0].num_max = 8;
    p2.fn.device = 3;
    expect_probe_ok("first");
    assert_int_equal(sim_pci_probe(&p2, &d2), 0);
    assert_string_equal(d2.name, "pci@00:03.0");
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_int_equal(lvio_rng_init(&r2, &d2), 0);
    uint8_t a[8], b[8];
    assert_int_equal(lvio_rng_read(&R, a, 8, 1000000), 8);
    assert_int_equal(lvio_rng_read(&r2, b, 8, 1000000), 8);
    assert_sequence(a, 8, 0);
    assert_sequence(b, 8, 100);
    lvio_rng_teardown(&r2);
    lvio_rng_teardown(&R);
    assert_int_equal(P.s.live_pages, 0);
    assert_int_equal(p2.s.live_pages, 0);
    assert_string_equal(P.s.error, "");
    assert_string_equal(p2.s.error, "");
}

/* ---- diagnostics --------------------------------------------------------------------------------- */

static void clear_log(void)
{
    P.s.log_len = 0;
    P.s.log[0] = '\0';
}

static void test_dump_shows_pci_address_and_layout(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 2; i++) {
        sim_pci_init(&P, kinds[i], LVIO_VIRTIO_ID_RNG);
        P.fn.bus = 0x12;
        P.fn.device = 3;
        P.fn.function = 1;
        P.s.handler = sim_rng_handler;
        P.s.q[0].num_max = 8;
        expect_probe_ok("dump");
        assert_int_equal(lvio_rng_init(&R, &D), 0);
        P.s.hal.log_level = LVIO_LOG_ERROR; /* dump prints anyway */
        clear_log();
        lvio_dump(&D);
        if (!mentions(P.s.log, "pci") || !mentions(P.s.log, "12:03.1") ||
            !(mentions(P.s.log, "bar") || mentions(P.s.log, "cap")))
            fail_msg("dump does not show the PCI address and layout:\n%s", P.s.log);
        char want[32];
        snprintf(want, sizeof want, "queue 0: size %u,", R.vq.size);
        assert_non_null(strstr(P.s.log, "device 4 (rng)"));
        assert_non_null(strstr(P.s.log, want));
        lvio_rng_teardown(&R);
        assert_string_equal(P.s.error, "");
    }
}

/* A probe failure is logged with the device's name and the error's name. */
static void test_probe_failure_logged_with_name(void **state)
{
    (void)state;
    modern_rng();
    P.fn.bus = 1;
    sim_pci_cap(&P, LVIO_VIRTIO_PCI_CAP_ISR_CFG)->bar = 7;
    sim_pci_build(&P);
    clear_log();
    expect_probe_fails("isr in BAR 7", LVIO_E_LAYOUT);
    assert_non_null(strstr(P.s.log, "pci@01:02.0"));
    assert_non_null(strstr(P.s.log, "LVIO_E_LAYOUT"));
}

static void trace_count(void *ctx, const struct lvio_trace_event *ev)
{
    int *counts = ctx;
    counts[ev->kind]++;
}

static void test_trace_sees_every_register_write(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 4; i++) {
        int counts[4] = {0};
        sim_pci_init(&P, kinds[i % 2], LVIO_VIRTIO_ID_RNG);
        P.s.q[0].num_max = 8;
        if (i >= 2) /* with MSI-X: configuration space and table writes too */
            P.s.hal.msix_route = sim_pci_msix_route;
        expect_probe_ok("trace");
        lvio_device_set_trace(&D, trace_count, counts);
        assert_int_equal(lvio_device_begin(&D, 0), 0);
        assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), 0);
        assert_int_equal(D.irq_mode, i >= 2 ? LVIO_IRQ_MSIX : LVIO_IRQ_INTX);
        assert_int_equal((unsigned)counts[LVIO_TRACE_REG_WRITE], P.dev_writes + P.cfg_writes);
        assert_true(counts[LVIO_TRACE_STATUS] >= 3);
        lvio_device_reset(&D);
        lvio_vq_teardown(&VQ);
    }
}

/* ---- MSI-X --------------------------------------------------------------------------------- */

static struct lvio_gpu G;

/* A function of `kind` whose HAL routes MSI-X vectors (sim_pci_msix_route). */
static void msix_sim(enum sim_pci_kind kind, uint32_t device_id)
{
    sim_pci_init(&P, kind, device_id);
    P.s.hal.msix_route = sim_pci_msix_route;
    if (kind == SIM_PCI_LEGACY)
        P.fn.bar[0].size = 0x40; /* room for configuration after 0x18 */
}

/* Table entry `v` holds what the HAL routed for vector v, unmasked. */
static void assert_entry_routed(uint16_t v)
{
    const struct sim_pci_msix_entry *e = &P.msix_table[v];
    if (e->addr_lo != (uint32_t)SIM_PCI_MSI_ADDR || e->addr_hi != 0 ||
        e->data != sim_pci_msi_data(&P, v) || (e->ctrl & LVIO_PCI_MSIX_ENTRY_MASKED))
        fail_msg("MSI-X entry %u: address 0x%08x%08x data %u control 0x%x; the route gave "
                 "0x%llx, %u (unmasked)",
                 v, e->addr_hi, e->addr_lo, e->data, e->ctrl,
                 (unsigned long long)SIM_PCI_MSI_ADDR, sim_pci_msi_data(&P, v));
}

static void assert_entries_masked_from(uint16_t first)
{
    for (uint16_t v = first; v < P.msix_size; v++)
        if (!(P.msix_table[v].ctrl & LVIO_PCI_MSIX_ENTRY_MASKED))
            fail_msg("MSI-X entry %u is unmasked, but no vector uses it", v);
}

/* MSI-X in use with `vectors` vectors, the configuration's 0. */
static void assert_msix_on(unsigned vectors)
{
    assert_int_equal(D.irq_mode, LVIO_IRQ_MSIX);
    assert_true(P.msix_enabled);
    assert_false(P.msix_masked); /* the function mask cleared again */
    assert_int_equal(P.config_vector, 0);
    assert_int_equal(D.transport_state.pci.msix.config_vector, 0);
    assert_int_equal(lvio_device_msix_vectors(&D), vectors);
    assert_true(lvio_device_msix_isr(&D, 0) & LVIO_VIRTIO_ISR_CONFIG);
    assert_entry_routed(0);
    if (D.legacy)
        assert_int_equal(D.transport_state.pci.legacy_cfg, LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX);
}

/* MSI-X not in use: INTx, the enable bit clear, no vector reported. */
static void assert_msix_off(const char *what)
{
    if (D.irq_mode != LVIO_IRQ_INTX || P.msix_enabled)
        fail_msg("%s: irq_mode %d, MSI-X %s; expected INTx with MSI-X disabled", what,
                 (int)D.irq_mode, P.msix_enabled ? "enabled" : "disabled");
    assert_int_equal(lvio_device_msix_vectors(&D), 0);
    for (uint16_t v = 0; v < 4; v++)
        assert_int_equal(lvio_device_msix_isr(&D, v), 0);
    for (const struct lvio_virtqueue *q = D.queues; q; q = q->next)
        assert_int_equal(q->msix_vector, LVIO_VIRTIO_MSI_NO_VECTOR);
    if (D.legacy)
        assert_int_equal(D.transport_state.pci.legacy_cfg, LVIO_VIRTIO_PCI_LEGACY_CONFIG);
}

/* The last message went to `vector`, with what the route gave it. */
static void assert_last_msg(uint16_t vector)
{
    assert_true(P.nmsgs > 0);
    const struct sim_pci_msg *m = &P.msgs[P.nmsgs - 1];
    if (m->vector != vector || m->addr != SIM_PCI_MSI_ADDR || m->data != sim_pci_msi_data(&P, vector))
        fail_msg("last message: vector %u, 0x%llx <- %u; expected vector %u", m->vector,
                 (unsigned long long)m->addr, m->data, vector);
}

/* rng over MSI-X: the configuration on vector 0, the queue on 1, each
 * written and read back; a completion is vector 1's message, not the ISR. */
static void test_msix_rng_vectors_over_each_interface(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 2; i++) {
        msix_sim(kinds[i], LVIO_VIRTIO_ID_RNG);
        P.s.handler = sim_rng_handler;
        P.s.q[0].num_max = 8;
        expect_probe_ok("rng");
        assert_int_equal(D.irq_mode, LVIO_IRQ_INTX); /* nothing before the init */
        assert_int_equal(lvio_rng_init(&R, &D), 0);
        assert_msix_on(2);
        assert_int_equal(P.queue_vector[0], 1);
        assert_int_equal(R.vq.msix_vector, 1);
        assert_entry_routed(1);
        assert_entries_masked_from(2);
        assert_int_equal(P.route_calls, 2);
        assert_int_equal(P.msix_vector_writes, 2);

        uint8_t buf[16];
        P.nmsgs = 0;
        assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 16);
        assert_sequence(buf, sizeof buf, 0);
        assert_true(sim_pci_msgs_for(&P, 1) > 0);
        assert_int_equal(sim_pci_msgs_for(&P, 1), P.nmsgs);
        assert_last_msg(1);
        assert_int_equal(P.s.isr, 0); /* with MSI-X on, the ISR is not used */
        assert_int_equal(lvio_device_msix_isr(&D, 1), LVIO_VIRTIO_ISR_QUEUE);
        assert_int_equal(lvio_device_msix_isr(&D, 0), LVIO_VIRTIO_ISR_CONFIG);
        assert_int_equal(lvio_device_msix_isr(&D, 2), 0);
        assert_int_equal(lvio_device_msix_isr(&D, 0xffff), 0);
        /* what an MSI-X handler hands the driver's poll */
        assert_true(lvio_rng_poll(&R) >= 0);
        lvio_rng_teardown(&R);
        assert_int_equal(P.s.live_pages, 0);
        assert_string_equal(P.s.error, "");
    }
}

/* A virtio-gpu just good enough for lvio_gpu_init over PCI: one 640x480
 * scanout in GET_DISPLAY_INFO, OK_NODATA for anything else. Its messages
 * are little-endian on either interface (virtio-gpu has no legacy byte
 * order; the driver writes them so). */
static uint32_t gpu_answer(struct sim *s, uint16_t queue, uint16_t head)
{
    const bool legacy = false;
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint8_t req[4];
    if (!sim_chain_buf(s, queue, head, 0, &addr, &len, &flags) || len < 4 ||
        !sim_dev_read(s, addr, req, sizeof req))
        return 0;
    bool info = sim_config_value(legacy, req, 4) == LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO;
    uint32_t n = info ? sizeof(struct lvio_virtio_gpu_resp_display_info)
                      : sizeof(struct lvio_virtio_gpu_ctrl_hdr);
    for (unsigned i = 1; sim_chain_buf(s, queue, head, i, &addr, &len, &flags); i++) {
        uint8_t *out = (flags & LVIO_VIRTQ_DESC_F_WRITE) && len >= n ? sim_mem(s, addr, n) : NULL;
        if (!out)
            continue;
        memset(out, 0, n);
        sim_config_bytes(legacy,
                         info ? LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO : LVIO_VIRTIO_GPU_RESP_OK_NODATA,
                         4, out, 4);
        if (info) {
            struct lvio_virtio_gpu_display_one *m =
                &((struct lvio_virtio_gpu_resp_display_info *)out)->pmodes[0];
            sim_config_bytes(legacy, 640, 4, (uint8_t *)&m->r.width, 4);
            sim_config_bytes(legacy, 480, 4, (uint8_t *)&m->r.height, 4);
            sim_config_bytes(legacy, 1, 4, (uint8_t *)&m->enabled, 4);
        }
        return n;
    }
    return 0;
}

static void gpu_over(enum sim_pci_kind kind)
{
    msix_sim(kind, LVIO_VIRTIO_ID_GPU);
    P.s.handler = gpu_answer;
    bool legacy = kind == SIM_PCI_LEGACY;
    sim_config_bytes(legacy, 1, 4, &P.s.config[offsetof(struct lvio_virtio_gpu_config, num_scanouts)], 4);
    expect_probe_ok("gpu");
}

/* gpu: configuration 0, control queue 1, cursor queue 2; a display
 * change is vector 0's message, which lvio_gpu_poll takes as CONFIG. On
 * legacy the configuration is read at 0x18 while MSI-X is on: a wrong
 * offset would read num_scanouts from the wrong bytes and fail the init. */
static void test_msix_gpu_vectors_and_config_change(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 2; i++) {
        gpu_over(kinds[i]);
        int r = lvio_gpu_init(&G, &D);
        if (r != 0)
            fail_msg("gpu init over %s: %s (\"%s\")", kinds[i] == SIM_PCI_LEGACY ? "legacy" : "modern",
                     lvio_errname(r), lvio_device_error(&D));
        assert_int_equal(G.num_scanouts, 1);
        assert_true(G.scanouts[0].enabled);
        assert_int_equal(G.scanouts[0].rect.width, 640);
        assert_msix_on(3);
        assert_int_equal(P.queue_vector[0], 1);
        assert_int_equal(P.queue_vector[1], 2);
        assert_int_equal(G.ctrlq.msix_vector, 1);
        assert_int_equal(G.cursorq.msix_vector, 2);
        assert_entry_routed(1);
        assert_entry_routed(2);
        assert_entries_masked_from(3);
        assert_int_equal(lvio_device_msix_isr(&D, 2), LVIO_VIRTIO_ISR_QUEUE);
        assert_true(sim_pci_msgs_for(&P, 1) > 0); /* the display info's answer */

        bool legacy = kinds[i] == SIM_PCI_LEGACY;
        sim_config_bytes(legacy, LVIO_VIRTIO_GPU_EVENT_DISPLAY, 4, &P.s.config[0], 4);
        unsigned before = P.nmsgs;
        sim_pci_config_change(&P);
        assert_int_equal(P.nmsgs, before + 1);
        assert_last_msg(0);
        assert_int_equal(P.s.isr, 0);
        uint32_t isr = lvio_device_msix_isr(&D, P.msgs[P.nmsgs - 1].vector);
        assert_int_equal(isr, LVIO_VIRTIO_ISR_CONFIG);
        assert_int_equal(lvio_gpu_poll(&G, isr), 1); /* modes re-read */
        uint32_t cleared = sim_config_value(legacy, &P.s.config[4], 4);
        assert_int_equal(cleared, LVIO_VIRTIO_GPU_EVENT_DISPLAY);
        lvio_gpu_teardown(&G);
        assert_int_equal(P.s.live_pages, 0);
        assert_string_equal(P.s.error, "");
    }
}

/* A legacy device's configuration is at 0x18 while MSI-X is enabled and at
 * 0x14 when it is not, whichever way begin left it (and after firmware
 * left it on). */
static void test_msix_legacy_config_follows_enable_bit(void **state)
{
    (void)state;
    for (int way = 0; way < 3; way++) {
        msix_sim(SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        if (way == 2) { /* firmware left it on; this HAL routes nothing */
            P.s.hal.msix_route = NULL;
            P.msix_enabled = true;
            sim_pci_build(&P);
        }
        for (unsigned i = 0; i < sizeof P.s.config; i++)
            P.s.config[i] = (uint8_t)(0x60 + i);
        expect_probe_ok("legacy");
        D.msix_off = way == 1;
        uint8_t buf[8];
        assert_int_equal(lvio_config_read(&D, 0, buf, sizeof buf), 0); /* before begin */
        assert_sequence(buf, sizeof buf, 0x60);
        assert_int_equal(lvio_device_begin(&D, 0), 0);
        assert_int_equal(P.msix_enabled, way == 0);
        assert_int_equal(D.irq_mode, way == 0 ? LVIO_IRQ_MSIX : LVIO_IRQ_INTX);
        memset(buf, 0, sizeof buf);
        assert_int_equal(lvio_config_read(&D, 0, buf, sizeof buf), 0);
        assert_sequence(buf, sizeof buf, 0x60);
        uint8_t v[4] = {1, 2, 3, 4};
        assert_int_equal(lvio_config_write(&D, 4, v, 4), 0);
        assert_memory_equal(&P.s.config[4], v, 4);
        assert_string_equal(P.s.error, "");
    }
}

/* The function for case `i` of test_msix_unavailable_means_intx, MSI-X
 * left enabled by firmware when `fw_on` (where there is a capability). */
static void msix_case(size_t i, bool fw_on)
{
    msix_sim(SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
    switch (i) {
    case 1: sim_pci_drop_cap(&P, 0); break; /* the MSI-X capability heads the list */
    case 2: P.s.hal.msix_route = NULL; break;
    case 3: P.route_fail_from = 0; break;
    case 4: P.msix_bar = 6; break;
    case 5: P.msix_bar = 7; break;
    case 6: P.fn.bar[1].size = 0; break;
    case 7: P.msix_table_off = 0xff8; break; /* 4 entries from 0xff8 */
    case 8: P.fn.bar[1].io = true; break;
    case 9: /* over the common structure */
        P.msix_bar = SIM_PCI_MODERN_BAR;
        P.msix_table_off = SIM_PCI_COMMON_OFF + 0x10;
        break;
    case 10: /* a legacy function needs only I/O decoding; the table does not */
        msix_sim(SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
        P.command &= (uint16_t)~LVIO_PCI_COMMAND_MEMORY;
        break;
    }
    P.s.handler = sim_rng_handler;
    P.msix_enabled = fw_on && i != 1; /* without a capability, nothing to enable */
}

/* Every way MSI-X is not to be used: the device runs on INTx, MSI-X
 * disabled (also when firmware left it enabled), no vector written, and
 * the reason is kept for the dump. */
static void test_msix_unavailable_means_intx(void **state)
{
    (void)state;
    static const struct {
        const char *what, *why;
    } cases[] = {
        {"msix_off", "msix_off"},
        {"no capability", "no MSI-X capability"},
        {"no msix_route", "msix_route"},
        {"route fails", "LVIO_E_HAL"},
        {"BIR 6", "names BAR 6"},
        {"BIR 7", "names BAR 7"},
        {"BAR not assigned", "not assigned"},
        {"past the BAR", "ends past the BAR"},
        {"I/O BAR", "I/O BAR"},
        {"on the common structure", "overlaps the common"},
        {"memory decoding off", "memory decoding"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int fw_on = 0; fw_on <= 1; fw_on++) {
            msix_case(i, fw_on);
            sim_pci_build(&P);
            P.s.q[0].num_max = 8;
            expect_probe_ok(cases[i].what);
            D.msix_off = i == 0;
            int r = lvio_rng_init(&R, &D);
            if (r != 0)
                fail_msg("%s: rng init returned %s (\"%s\"); the model saw \"%s\"", cases[i].what,
                         lvio_errname(r), lvio_device_error(&D), P.s.error);
            assert_msix_off(cases[i].what);
            if (!mentions(D.transport_state.pci.msix.why, cases[i].why))
                fail_msg("%s: the reason kept is \"%s\"", cases[i].what, D.transport_state.pci.msix.why);
            assert_int_equal(P.msix_vector_writes, 0);
            /* The completion comes by the ISR, as without MSI-X. */
            uint8_t buf[8];
            assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 8);
            assert_true(lvio_device_isr(&D) & LVIO_VIRTIO_ISR_QUEUE);
            assert_int_equal(P.nmsgs, 0);
            clear_log();
            lvio_dump(&D);
            if (!mentions(P.s.log, "INTx") || !mentions(P.s.log, cases[i].why))
                fail_msg("%s: the dump does not say INTx and why:\n%s", cases[i].what, P.s.log);
            lvio_rng_teardown(&R);
            assert_int_equal(P.s.live_pages, 0);
            assert_string_equal(P.s.error, "");
        }
    }
}

/* A HAL that breaks msix_route's contract for vector 1: an MSI address
 * is 4-byte aligned. */
static int misaligned_route(void *ctx, const struct lvio_device *dev, uint16_t vector,
                            uint64_t *addr, uint32_t *data)
{
    int r = sim_pci_msix_route(ctx, dev, vector, addr, data);
    if (vector == 1)
        *addr |= 2;
    return r;
}

/* A device that does not take a vector (VIRTIO_MSI_NO_VECTOR: it has none
 * to spare) or takes another one, or a route that fails for a queue's
 * vector: not an error. MSI-X is given up, the warning names exactly what
 * happened, and the device works through the ISR. */
static void test_msix_refused_vector_falls_back_to_intx(void **state)
{
    (void)state;
    static const struct {
        enum sim_pci_kind kind;
        int knob;
        const char *line;
    } cases[] = {
        {SIM_PCI_MODERN, 0, "pci@00:02.0: config: device answered VIRTIO_MSI_NO_VECTOR for "
                            "MSI-X vector 0; using INTx\n"},
        {SIM_PCI_LEGACY, 0, "pci@00:02.0: config: device answered VIRTIO_MSI_NO_VECTOR for "
                            "MSI-X vector 0; using INTx\n"},
        {SIM_PCI_MODERN, 1, "pci@00:02.0: queue 1: device answered VIRTIO_MSI_NO_VECTOR for "
                            "MSI-X vector 2; using INTx\n"},
        {SIM_PCI_LEGACY, 1, "pci@00:02.0: queue 1: device answered VIRTIO_MSI_NO_VECTOR for "
                            "MSI-X vector 2; using INTx\n"},
        {SIM_PCI_MODERN, 2, "pci@00:02.0: queue 1: device answered VIRTIO_MSI_NO_VECTOR for "
                            "MSI-X vector 2; using INTx\n"},
        {SIM_PCI_MODERN, 3, "pci@00:02.0: config: MSI-X vector 0 reads back as 4; using INTx\n"},
        {SIM_PCI_LEGACY, 4, "pci@00:02.0: queue 1: msix_route for MSI-X vector 2 returned -"},
        {SIM_PCI_MODERN, 5, "pci@00:02.0: queue 0: msix_route gave MSI-X vector 1 address "
                            "0x8020042, not 4-byte aligned; using INTx\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msix_sim(cases[i].kind, LVIO_VIRTIO_ID_RNG);
        switch (cases[i].knob) {
        case 0: P.refuse_config_vector = true; break;
        case 1: P.refuse_queue_vector = 1u << 1; break;
        case 2: P.vector_limit = 2; break; /* vectors 0 and 1 only */
        case 3: P.vector_xor = 4; break;
        case 4: P.route_fail_from = 2; break;
        case 5: P.s.hal.msix_route = misaligned_route; break;
        }
        P.s.hal.log_level = LVIO_LOG_WARN;
        clear_log();
        begin();
        assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 8), 0);
        assert_int_equal(lvio_vq_setup(&VQ1, &D, 1, 8), 0); /* not an error */
        assert_int_equal(lvio_device_driver_ok(&D), 0);
        if (!strstr(P.s.log, cases[i].line))
            fail_msg("case %zu: the log lacks \"%s\":\n%s", i, cases[i].line, P.s.log);
        assert_msix_off("refused");
        /* the reason kept for lvio_dump: the line without name and ending */
        const char *why = strchr(cases[i].line, ' ') + 1;
        const char *end = strstr(why, "; using INTx");
        if (strncmp(D.transport_state.pci.msix.why, why, end ? (size_t)(end - why) : strlen(why)) != 0)
            fail_msg("case %zu: the reason kept is \"%s\"", i, D.transport_state.pci.msix.why);
        assert_string_equal(lvio_device_error(&D), ""); /* a warning, not an error */
        one_request(&VQ);
        assert_true(lvio_device_isr(&D) & LVIO_VIRTIO_ISR_QUEUE);
        one_request(&VQ1);
        assert_true(lvio_device_isr(&D) & LVIO_VIRTIO_ISR_QUEUE);
        assert_int_equal(P.nmsgs, 0);
        two_queues_down();
    }
}

/* Fewer table entries than queues: the configuration keeps 0, the queues
 * share the rest (1 + q % (n - 1)), or all of it shares 0 with one entry;
 * each entry is routed once, and lvio_device_msix_isr says what a shared
 * vector stands for. */
static void test_msix_vectors_shared_when_table_is_small(void **state)
{
    (void)state;
    static const struct {
        uint16_t size;
        uint16_t vec[3];
        unsigned vectors;
    } cases[] = {
        {4, {1, 2, 3}, 4},
        {3, {1, 2, 1}, 3},
        {2, {1, 1, 1}, 2},
        {1, {0, 0, 0}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msix_sim(SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
        P.msix_size = cases[i].size;
        P.s.q[2].num_max = 8;
        sim_pci_build(&P);
        static struct lvio_virtqueue vq2;
        begin();
        assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 8), 0);
        assert_int_equal(lvio_vq_setup(&VQ1, &D, 1, 8), 0);
        assert_int_equal(lvio_vq_setup(&vq2, &D, 2, 8), 0);
        assert_int_equal(lvio_device_driver_ok(&D), 0);
        assert_msix_on(cases[i].vectors);
        const struct lvio_virtqueue *q[3] = {&VQ, &VQ1, &vq2};
        for (unsigned n = 0; n < 3; n++) {
            assert_int_equal(P.queue_vector[n], cases[i].vec[n]);
            assert_int_equal(q[n]->msix_vector, cases[i].vec[n]);
            assert_entry_routed(cases[i].vec[n]);
            assert_true(lvio_device_msix_isr(&D, cases[i].vec[n]) & LVIO_VIRTIO_ISR_QUEUE);
        }
        assert_int_equal(P.route_calls, cases[i].vectors); /* each entry routed once */
        assert_entries_masked_from((uint16_t)cases[i].vectors);
        assert_int_equal(lvio_device_msix_isr(&D, 0),
                         LVIO_VIRTIO_ISR_CONFIG | (cases[i].size == 1 ? LVIO_VIRTIO_ISR_QUEUE : 0));
        /* a completion on queue 2 is its (shared) vector's message */
        P.nmsgs = 0;
        one_request(&vq2);
        assert_last_msg(cases[i].vec[2]);
        lvio_vq_teardown(&vq2);
        two_queues_down();
    }
}

/* A reset forgets the vectors (the device's and the library's); the next
 * init programs them again, and the route is asked again and answers the
 * same. An entry left unmasked meanwhile is masked again. */
static void test_msix_reset_and_reinit_reprograms(void **state)
{
    (void)state;
    static const enum sim_pci_kind kinds[] = {SIM_PCI_MODERN, SIM_PCI_LEGACY};
    for (size_t i = 0; i < 2; i++) {
        msix_sim(kinds[i], LVIO_VIRTIO_ID_RNG);
        P.s.handler = sim_rng_handler;
        P.s.q[0].num_max = 8;
        expect_probe_ok("rng");
        assert_int_equal(lvio_rng_init(&R, &D), 0);
        assert_msix_on(2);
        lvio_rng_teardown(&R);
        assert_int_equal(P.config_vector, LVIO_VIRTIO_MSI_NO_VECTOR); /* the device forgot */
        assert_int_equal(P.queue_vector[0], LVIO_VIRTIO_MSI_NO_VECTOR);
        P.msix_table[3].ctrl = 0; /* someone unmasked an unused entry */
        P.msix_table[1] = (struct sim_pci_msix_entry){0, 0, 0, 1}; /* and wiped entry 1 */
        unsigned routes = P.route_calls;
        assert_int_equal(lvio_rng_init(&R, &D), 0);
        assert_msix_on(2);
        assert_int_equal(P.route_calls, routes + 2);
        assert_int_equal(P.queue_vector[0], 1);
        assert_entry_routed(1);
        assert_entries_masked_from(2);
        uint8_t buf[8];
        P.nmsgs = 0;
        assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 8);
        assert_last_msg(1);
        /* and once more without MSI-X: switched off again */
        lvio_rng_teardown(&R);
        D.msix_off = true;
        assert_int_equal(lvio_rng_init(&R, &D), 0);
        assert_msix_off("msix_off after MSI-X");
        lvio_rng_teardown(&R);
        assert_int_equal(P.s.live_pages, 0);
        assert_string_equal(P.s.error, "");
    }
}

/* The interrupt calls on devices that cannot answer: 0, no access. */
static void test_msix_calls_on_invalid_devices(void **state)
{
    (void)state;
    assert_int_equal(lvio_device_msix_isr(NULL, 0), 0);
    assert_int_equal(lvio_device_msix_vectors(NULL), 0);
    msix_sim(SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
    P.fn.device = 40; /* the probe fails: no transport */
    assert_int_equal(sim_pci_probe(&P, &D), LVIO_E_INVAL);
    assert_int_equal(lvio_device_msix_isr(&D, 0), 0);
    assert_int_equal(lvio_device_msix_vectors(&D), 0);
    /* probed, not begun: no vector yet */
    msix_sim(SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
    expect_probe_ok("probed");
    assert_int_equal(D.irq_mode, LVIO_IRQ_INTX);
    assert_int_equal(lvio_device_msix_isr(&D, 0), 0);
    assert_int_equal(lvio_device_msix_vectors(&D), 0);
    /* MMIO never uses MSI-X, whatever the HAL offers */
    static struct sim s;
    sim_init(&s, 2, LVIO_VIRTIO_ID_RNG);
    s.hal.msix_route = sim_pci_msix_route; /* never called: ctx is not a sim_pci */
    sim_probe(&s, &D);
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(D.irq_mode, LVIO_IRQ_INTX);
    assert_int_equal(lvio_device_msix_isr(&D, 0), 0);
    assert_int_equal(lvio_device_msix_vectors(&D), 0);
    assert_string_equal(s.error, "");
}

/* lvio_dump's interrupt line: MSI-X with each vector. */
static void test_msix_dump_shows_vectors(void **state)
{
    (void)state;
    msix_sim(SIM_PCI_MODERN, LVIO_VIRTIO_ID_RNG);
    two_queues_up();
    clear_log();
    lvio_dump(&D);
    if (!strstr(P.s.log, "interrupts MSI-X, 3 vectors (table BAR 1 + 0x0, 4 entries): "
                         "config vector 0") ||
        !strstr(P.s.log, "queue 0 vector 1") || !strstr(P.s.log, "queue 1 vector 2"))
        fail_msg("the dump does not show the MSI-X vectors:\n%s", P.s.log);
    two_queues_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_modern_reads_identity_and_writes_nothing),
        cmocka_unit_test(test_probe_name_carries_segment_only_when_not_zero),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_probe_transitional_uses_modern_interface),
        cmocka_unit_test(test_probe_legacy_only_uses_io_bar),
        cmocka_unit_test(test_probe_with_256_byte_config_space),
        cmocka_unit_test(test_probe_skips_capabilities_it_does_not_use),
        cmocka_unit_test(test_probe_uses_first_usable_structure_of_a_type),
        cmocka_unit_test(test_probe_without_device_config_structure),
        cmocka_unit_test(test_probe_bad_arguments),
        cmocka_unit_test(test_probe_map_regs_failure),
        cmocka_unit_test(test_probe_empty_slot_is_not_virtio),
        cmocka_unit_test(test_probe_foreign_ids_are_not_virtio),
        cmocka_unit_test(test_probe_needs_decoding_and_bus_mastering),
        cmocka_unit_test(test_probe_capability_list_that_loops),
        cmocka_unit_test(test_probe_capability_pointer_into_header),
        cmocka_unit_test(test_probe_capability_pointer_low_bits_masked),
        cmocka_unit_test(test_probe_capability_past_standard_space),
        cmocka_unit_test(test_probe_capability_too_short),
        cmocka_unit_test(test_probe_structure_in_reserved_or_absent_bar),
        cmocka_unit_test(test_probe_structure_past_bar_end),
        cmocka_unit_test(test_probe_misaligned_structure_refused),
        cmocka_unit_test(test_probe_structure_too_small),
        cmocka_unit_test(test_probe_structure_missing),
        cmocka_unit_test(test_probe_legacy_bar_unusable),
        cmocka_unit_test(test_modern_queue_setup_order),
        cmocka_unit_test(test_modern_queue_size_from_device_and_driver),
        cmocka_unit_test(test_modern_queue_missing),
        cmocka_unit_test(test_modern_queue_already_enabled),
        cmocka_unit_test(test_notify_address_from_queue_notify_off),
        cmocka_unit_test(test_notify_multiplier_zero_shares_one_address),
        cmocka_unit_test(test_notify_at_end_of_structure),
        cmocka_unit_test(test_notify_outside_structure_refused),
        cmocka_unit_test(test_notify_odd_address_refused),
        cmocka_unit_test(test_legacy_queue_uses_fixed_size),
        cmocka_unit_test(test_legacy_queue_size_unusable),
        cmocka_unit_test(test_legacy_queue_already_in_use),
        cmocka_unit_test(test_begin_negotiates_over_each_interface),
        cmocka_unit_test(test_features_refused_over_pci),
        cmocka_unit_test(test_reset_bounded_over_pci),
        cmocka_unit_test(test_modern_config_read_under_generation),
        cmocka_unit_test(test_legacy_config_read_after_registers),
        cmocka_unit_test(test_legacy_config_moves_when_msix_enabled),
        cmocka_unit_test(test_config_access_stays_inside_structure),
        cmocka_unit_test(test_isr_read_acknowledges_both_interfaces),
        cmocka_unit_test(test_rng_over_modern_pci),
        cmocka_unit_test(test_rng_over_transitional_pci_never_touches_legacy),
        cmocka_unit_test(test_rng_over_legacy_pci),
        cmocka_unit_test(test_two_pci_functions_at_once),
        cmocka_unit_test(test_dump_shows_pci_address_and_layout),
        cmocka_unit_test(test_probe_failure_logged_with_name),
        cmocka_unit_test(test_trace_sees_every_register_write),
        cmocka_unit_test(test_msix_rng_vectors_over_each_interface),
        cmocka_unit_test(test_msix_gpu_vectors_and_config_change),
        cmocka_unit_test(test_msix_legacy_config_follows_enable_bit),
        cmocka_unit_test(test_msix_unavailable_means_intx),
        cmocka_unit_test(test_msix_refused_vector_falls_back_to_intx),
        cmocka_unit_test(test_msix_vectors_shared_when_table_is_small),
        cmocka_unit_test(test_msix_reset_and_reinit_reprograms),
        cmocka_unit_test(test_msix_calls_on_invalid_devices),
        cmocka_unit_test(test_msix_dump_shows_vectors),
    };
    return cmocka_run_group_tests_name("pci", tests, NULL, NULL);
}
