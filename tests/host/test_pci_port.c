/*
 * The PCI transport on a CPU with an I/O port space (x86): a legacy or
 * transitional function whose BAR 0 is a port number, reached only through
 * the HAL's port_read/port_write (sim_pci_use_ports), never mapped or
 * dereferenced. The legacy interface must work whole through them (the
 * rng driver, MSI-X moving the configuration, the trace hook), a modern
 * interface must not touch them, and an unassigned port is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim_pci.h"

static struct sim_pci P;
static struct lvio_device D;
static struct lvio_rng R;

static void assert_sequence(const uint8_t *buf, size_t len, uint8_t first)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(first + i))
            fail_msg("byte %zu is 0x%02x, want 0x%02x", i, buf[i], (uint8_t)(first + i));
}

static bool bar0_mapped(void)
{
    for (unsigned i = 0; i < P.nmaps; i++)
        if (P.maps[i].bar == 0)
            return true;
    return false;
}

static void test_legacy_rng_through_ports(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    sim_pci_use_ports(&P);
    P.s.handler = sim_rng_handler;
    P.s.q[0].num_max = 8;
    assert_int_equal(sim_pci_probe(&P, &D), 0);
    assert_int_equal(D.version, 1);
    assert_true(D.legacy);
    assert_int_equal(D.phys, SIM_PCI_IO_PORT);
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    uint8_t buf[64];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), (int)sizeof buf);
    assert_sequence(buf, sizeof buf, 0);
    assert_true(lvio_device_isr(&D) & LVIO_VIRTIO_ISR_QUEUE);
    lvio_rng_teardown(&R);
    assert_false(bar0_mapped());
    assert_true(P.port_accesses > 0);
    assert_int_equal(P.legacy_accesses, P.port_accesses);
    assert_int_equal(P.s.live_pages, 0);
    assert_string_equal(P.s.error, "");
}

/* A transitional function is driven through its modern interface: the
 * ports are there but never used. */
static void test_transitional_ignores_ports(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_TRANSITIONAL, LVIO_VIRTIO_ID_RNG);
    sim_pci_use_ports(&P);
    P.s.handler = sim_rng_handler;
    assert_int_equal(sim_pci_probe(&P, &D), 0);
    assert_int_equal(D.version, 2);
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    uint8_t buf[16];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), (int)sizeof buf);
    lvio_rng_teardown(&R);
    assert_int_equal(P.port_accesses, 0);
    assert_false(bar0_mapped());
    assert_string_equal(P.s.error, "");
}

/* With MSI-X enabled the legacy configuration moves to 0x18, in ports too. */
static void test_legacy_msix_config_through_ports(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    P.s.hal.msix_route = sim_pci_msix_route;
    P.fn.bar[0].size = 0x40;
    sim_pci_use_ports(&P);
    for (unsigned i = 0; i < sizeof P.s.config; i++)
        P.s.config[i] = (uint8_t)(0x30 + i);
    assert_int_equal(sim_pci_probe(&P, &D), 0);
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(D.irq_mode, LVIO_IRQ_MSIX);
    uint8_t buf[8];
    assert_int_equal(lvio_config_read(&D, 0, buf, sizeof buf), 0);
    assert_sequence(buf, sizeof buf, 0x30);
    lvio_device_reset(&D);
    assert_false(bar0_mapped());
    assert_string_equal(P.s.error, "");
}

static void count_writes(void *ctx, const struct lvio_trace_event *ev)
{
    if (ev->kind == LVIO_TRACE_REG_WRITE)
        ++*(unsigned *)ctx;
}

static void test_trace_sees_port_writes(void **state)
{
    (void)state;
    unsigned writes = 0;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    sim_pci_use_ports(&P);
    assert_int_equal(sim_pci_probe(&P, &D), 0);
    lvio_device_set_trace(&D, count_writes, &writes);
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_true(writes > 0);
    assert_int_equal(writes, P.dev_writes);
    lvio_device_reset(&D);
}

/* Port 0 is an unassigned BAR: refused, nothing accessed. */
static void test_port_zero_refused(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    sim_pci_use_ports(&P);
    P.fn.bar[0].phys = 0;
    assert_int_equal(sim_pci_probe(&P, &D), LVIO_E_LAYOUT);
    assert_non_null(strstr(lvio_device_error(&D), "port 0x0"));
    assert_int_equal(P.port_accesses, 0);
}

/* Without port hooks an I/O BAR is memory-mapped I/O space, as before. */
static void test_without_ports_io_bar_is_mapped(void **state)
{
    (void)state;
    sim_pci_init(&P, SIM_PCI_LEGACY, LVIO_VIRTIO_ID_RNG);
    assert_int_equal(sim_pci_probe(&P, &D), 0);
    assert_true(bar0_mapped());
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(P.port_accesses, 0);
    lvio_device_reset(&D);
    assert_string_equal(P.s.error, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_rng_through_ports),
        cmocka_unit_test(test_transitional_ignores_ports),
        cmocka_unit_test(test_legacy_msix_config_through_ports),
        cmocka_unit_test(test_trace_sees_port_writes),
        cmocka_unit_test(test_port_zero_refused),
        cmocka_unit_test(test_without_ports_io_bar_is_mapped),
    };
    return cmocka_run_group_tests_name("pci_port", tests, NULL, NULL);
}
