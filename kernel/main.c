/*
 * kmain: the in-guest test run (docs/design.md, "Kernel contract").
 *
 * Every virtio-mmio transport named by the device tree (or, without one,
 * by the platform: platform.h) is probed, and every virtio function on the
 * PCIe host bridge (kernel/pci.c); each
 * device found is brought up with the library's driver for its kind and
 * exercised. The serial console gets one `lvio:` line per device, then one
 * verdict line, `levitate: PASS <n> tests` or `levitate: FAIL <f>/<n> tests`.
 * Having no device of a kind is not a failure; a device that does not work
 * is.
 *
 * Bootargs (QEMU -append):
 *   poweroff     power off after the verdict (handled by kernel_start)
 *   lvio.debug   the library logs at debug level, not only warnings
 *   lvio.dump    lvio_dump() of every device after its test
 *   lvio.trace   every register write, notify and completion, as it happens
 *   bench        after the tests, time the first device of each driver and
 *                where boot time went (make bench)
 *   soak         after the tests, 100 000 requests on the first rng,
 *                10 000 presents on the first GPU and 100 000 reads on the
 *                first disk; DMA pages must not leak
 *   rng.timeout_ms=N  bound on each rng read (default 15 s)
 *   selftest.fault  after the verdict, read through a physical address used
 *                as a pointer: proves a fault is reported (aarch64 ESR, FAR,
 *                ELR; riscv64 scause, stval, sepc; x86_64 vector, cr2,
 *                rip), not a silent hang
 */
#include "fdt.h"
#include "ktest.h"
#include "platform.h"
#include "shell.h"

/* QEMU's virt machine has 32 virtio-mmio transports (riscv64: 8; x86 microvm
 * 24); PCI adds more. */
#define MAX_DEVICES 64

/* Big structs live here, not on the 128 KiB stack. */
static struct kdev devices[MAX_DEVICES];
static unsigned n_devices;

static unsigned tests_run;
static unsigned tests_failed;
bool opt_dump;
bool opt_bench;

/* Where boot time goes (make bench): counter readings at each phase's end,
 * printed as `bench: boot: <phase>: <ms> ms` after the tests. A driver's
 * phase sums its devices. Room for the kernel's own phases and one per
 * driver. */
#define MAX_PHASES 24
struct phase {
    const char *name;
    bool devices; /* a driver's: its devices' bring-up and tests */
    uint64_t cycles;
};
static struct phase phases[MAX_PHASES];
static unsigned n_phases;
static uint64_t phase_start;

static void phase_end_of(const char *name, bool devices)
{
    uint64_t now = cycles();
    unsigned i;

    for (i = 0; i < n_phases && phases[i].name != name; i++)
        ;
    if (i == n_phases) {
        if (n_phases == MAX_PHASES) {
            phase_start = now; /* not counted, not added to the next one */
            return;
        }
        phases[n_phases++] = (struct phase){ .name = name, .devices = devices };
    }
    phases[i].cycles += now - phase_start;
    phase_start = now;
}

static void phase_end(const char *name)
{
    phase_end_of(name, false);
}

static uint64_t to_tenths_ms(uint64_t ticks)
{
    return ticks * 10000 / cycles_per_second();
}

/* Boot time, split: before the kernel's C code (firmware, the entry
 * assembly), the early C steps, each phase of kmain, and how much of all
 * that the consoles took. */
static void print_phases(uint64_t kmain_cycles, uint64_t verdict_cycles,
                         struct console_cost con)
{
    char label[64];

    bench_line("boot: reset to kernel entry", to_tenths_ms(boot_entry_cycles()), "ms");
    bench_line("boot: early (MMU, device tree, DMA pool)",
               to_tenths_ms(kmain_cycles - boot_entry_cycles()), "ms");
    for (unsigned i = 0; i < n_phases; i++) {
        ksnprintf(label, sizeof(label), "boot: %s%s", phases[i].name,
                  phases[i].devices ? " devices" : "");
        bench_line(label, to_tenths_ms(phases[i].cycles), "ms");
    }
    ksnprintf(label, sizeof(label), "boot: of which serial console, %llu characters",
              (unsigned long long)con.chars);
    bench_line(label, to_tenths_ms(con.uart_cycles), "ms");
    bench_line("boot: of which screen console", to_tenths_ms(con.mirror_cycles), "ms");
    bench_line("boot to verdict", to_tenths_ms(verdict_cycles - boot_entry_cycles()), "ms");
}

/* One in-guest test: counts it, and says what failed. */
bool expect(bool ok, const char *fmt, ...)
{
    va_list ap;

    tests_run++;
    if (ok)
        return true;
    tests_failed++;
    kprintf("levitate: test failed: ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    return false;
}

const char *kdev_kind(const struct kdev *k)
{
    return lvio_device_type_name(k->dev.device_id);
}

/*
 * The contract's error line. `doing` says what was being attempted; the
 * device's own message (which queue, which indexes, how long) follows.
 */
void report_error(struct kdev *k, const char *errname, const char *doing)
{
    const char *why = lvio_device_error(&k->dev);

    kprintf("lvio: %s %s: error %s %s%s%s\n", kdev_kind(k), k->dev.name, errname, doing,
            why[0] ? ": " : "", why);
}

/* Devices of a kind this kernel has no driver for are named and left alone. */
/* The driver for k's device id, or NULL. */
static const struct kdriver *kdriver_for(const struct kdev *k)
{
    for (const struct kdriver *const *d = kernel_drivers; *d; d++)
        if ((*d)->device_id == k->dev.device_id)
            return *d;
    return NULL;
}

/* The first device `drv` drives (that ran and kept state, if `ran`). */
static struct kdev *first_of(const struct kdriver *drv, bool ran)
{
    for (unsigned i = 0; i < n_devices; i++)
        if (devices[i].dev.device_id == drv->device_id && (!ran || devices[i].drv))
            return &devices[i];
    return NULL;
}

int kdev_up_twice(struct kdev *k, int (*up)(struct kdev *k), void (*down)(struct kdev *k))
{
    size_t pages = dma_pages_in_use();
    int rc = up(k);

    if (rc == LVIO_OK) {
        down(k);
        expect(dma_pages_in_use() == pages, "%s: %zu DMA pages leaked by teardown",
               k->dev.name, dma_pages_in_use() - pages);
        rc = up(k);
    }
    return rc;
}

struct kdev *kernel_devices(unsigned *n)
{
    *n = n_devices;
    return devices;
}

struct kdev *kernel_first_device(const struct kdriver *drv)
{
    return first_of(drv, true);
}

/* Without poweroff: the shell on the serial line (and on whatever the
 * drivers' idle hooks feed it: keyboards, console ports), the devices'
 * events, the host's display changes; asleep in between. */
static void stay_up(void)
{
    uint64_t next_display = 0;

    shell_prompt(shell_serial());
    for (;;) {
        shell_serial_poll();
        for (unsigned i = 0; i < n_devices; i++) {
            const struct kdriver *drv = kdriver_for(&devices[i]);
            if (drv && drv->idle && devices[i].drv)
                drv->idle(&devices[i]);
        }
        if (time_ns() >= next_display) {
            gpu_idle();
            next_display = time_ns() + 50 * MS;
        }
        cpu_relax(); /* asleep until an interrupt or a tick */
    }
}

void *kdev_state(struct kdev *k, size_t size)
{
    uint64_t phys;
    if (!k->drv)
        k->drv = dma_alloc_pages((size + 4095) / 4096, &phys);
    if (!expect(k->drv != NULL, "%s: no memory for the driver's state", k->dev.name))
        report_error(k, "LVIO_E_NOMEM", "allocating the driver's state");
    return k->drv;
}

static void run_other(struct kdev *k)
{
    char how[24];

    kprintf("lvio: %s %s: ok v%u, device id %u, no driver in this kernel yet, %s\n",
            kdev_kind(k), k->dev.name, (unsigned)k->dev.version, (unsigned)k->dev.device_id,
            kdev_service(k, how, sizeof how));
    if (opt_dump)
        lvio_dump(&k->dev);
}

static void trace_event(void *ctx, const struct lvio_trace_event *ev)
{
    (void)ctx;
    switch (ev->kind) {
    case LVIO_TRACE_REG_WRITE:
        kprintf("  [trace] %s: write 0x%03x <- 0x%x\n", ev->dev->name, ev->offset, ev->value);
        break;
    case LVIO_TRACE_NOTIFY:
        kprintf("  [trace] %s: notify queue %u, avail idx %u\n", ev->dev->name, ev->queue,
                ev->value);
        break;
    case LVIO_TRACE_COMPLETE:
        kprintf("  [trace] %s: queue %u used id %u len %u\n", ev->dev->name, ev->queue, ev->id,
                ev->len);
        break;
    case LVIO_TRACE_STATUS:
        kprintf("  [trace] %s: status <- 0x%02x\n", ev->dev->name, ev->value);
        break;
    }
}

static bool node_enabled(const struct fdt *fdt, const struct fdt_node *node)
{
    const char *status = fdt_getprop_string(fdt, node, "status");

    return !status || strcmp(status, "okay") == 0 || strcmp(status, "ok") == 0;
}

/*
 * Probe one virtio-mmio transport into the next free kdev. Empty
 * transports (DeviceID 0, most of QEMU's slots) are skipped silently;
 * anything else that is not a usable device gets an error line. Returns
 * the kdev, or NULL.
 */
static struct kdev *probe_mmio(uint64_t addr, uint64_t size, const char *what)
{
    if (n_devices == MAX_DEVICES) {
        kprintf("levitate: more than %u virtio-mmio devices, %s skipped\n", MAX_DEVICES, what);
        return NULL;
    }
    struct kdev *k = &devices[n_devices];
    int rc = lvio_mmio_probe(&k->dev, kernel_hal(), addr, size);
    if (rc == LVIO_E_NODEV)
        return NULL;
    if (rc != LVIO_OK) {
        const char *why = lvio_device_error(&k->dev);
        kprintf("lvio: virtio mmio@0x%08llx: error %s probing%s%s\n", (unsigned long long)addr,
                lvio_errname(rc), why[0] ? ": " : "", why);
        expect(false, "%s: probe: %s", what, lvio_errname(rc));
        return NULL;
    }
    n_devices++;
    return k;
}

/* The transports the platform describes without a device tree (x86
 * microvm: ACPI or the command line; platform.h). */
static unsigned discover_platform_mmio(void)
{
    static struct mmio_slot slots[MAX_DEVICES];
    unsigned n = arch_mmio_devices(slots, MAX_DEVICES);

    for (unsigned i = 0; i < n; i++) {
        char what[48];
        ksnprintf(what, sizeof what, "%s mmio@0x%08llx", slots[i].source,
                  (unsigned long long)slots[i].phys);
        struct kdev *k = probe_mmio(slots[i].phys, slots[i].size, what);
        if (k && slots[i].has_irq && irq_ready())
            kdev_wire_line(k, &slots[i].irq);
    }
    return n;
}

/* Every enabled `virtio,mmio` node of the device tree, and the platform's
 * transports. */
static void discover_mmio(void)
{
    const struct fdt *fdt = kernel_fdt();
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;
    int rc;

    if (discover_platform_mmio() || !fdt) {
        if (!fdt)
            kprintf("levitate: no device tree: virtio-mmio transports only as the platform "
                    "describes them\n");
        return;
    }
    fdt_walk_begin(&w, fdt);
    while ((rc = fdt_walk_next_compatible(&w, "virtio,mmio", &node)) > 0) {
        if (!node_enabled(fdt, &node))
            continue;
        rc = fdt_node_reg(fdt, &node, 0, &addr, &size);
        if (rc != FDT_OK) {
            kprintf("levitate: %s: unusable reg (%s), skipped\n", node.path,
                    fdt_strerror(rc));
            continue;
        }
        struct kdev *k = probe_mmio(addr, size, node.path);
        if (k)
            kdev_wire_mmio(k, fdt, &node);
    }
    if (rc < 0)
        kprintf("levitate: device tree walk stopped: %s\n", fdt_strerror(rc));
}

/* `levitate: interrupts taken: <device> <n>, ...` for every device that
 * has a line: proof that they came, not only that they were set up. */
static void print_interrupts(void)
{
    bool any = false;

    for (unsigned i = 0; i < n_devices; i++) {
        if (!kdev_interrupts(&devices[i]))
            continue;
        kprintf("%s%s %s %u", any ? ", " : "levitate: interrupts taken: ",
                kdev_kind(&devices[i]), devices[i].dev.name, (unsigned)devices[i].interrupts);
        any = true;
    }
    if (any)
        kprintf("\n");
}

/* The kernel's own promises to the library. */
static void kernel_self_tests(void)
{
    static uint32_t probe_word = 0x1e71a7e;
    uint64_t phys = 0;
    void *p = dma_alloc_pages(1, &phys);

    expect(virt_to_phys(&probe_word) != (uint64_t)(uintptr_t)&probe_word,
           "kernel runs high (virtual != physical)");
    expect(p && virt_to_phys(p) == phys && (uintptr_t)p != phys,
           "a DMA page's device address is its physical address, not its pointer");
    if (p)
        dma_free_pages(p, 1);
    expect(vmap_selftest() == 0, "vmap: scattered pages at one virtual range");
}

void kmain(void)
{
    uint64_t kmain_cycles = phase_start = cycles();
    struct lvio_hal *hal = kernel_hal();
    uint64_t t0 = time_ns();

    if (kernel_bootarg("lvio.debug"))
        hal->log_level = LVIO_LOG_DEBUG;
    opt_dump = kernel_bootarg("lvio.dump");
    opt_bench = kernel_bootarg("bench");
    if (kernel_bootarg("hal.clock_stopped"))
        kernel_hal_stop_clock();

    kprintf("levitate: " KERNEL_ARCH_NAME ", RAM 0x%llx..0x%llx, %zu DMA pages, bootargs \"%s\"\n",
            (unsigned long long)ram_phys_start(), (unsigned long long)ram_phys_end(),
            dma_pages_total(), kernel_bootargs());
    phase_end("banner");
    kernel_self_tests();
    phase_end("kernel self-tests");
    if (kernel_bootarg("irq.off"))
        kprintf("levitate: interrupts: off (bootarg irq.off); every device is polled\n");
    else
        irq_init(kernel_fdt());
    phase_end("interrupt controller");
    /* PCI devices use MSI-X when the controller has MSI lines (and the
     * bootarg msix.off does not say no); else INTx. */
    if (irq_msi_available() && !kernel_bootarg("msix.off"))
        hal->msix_route = kdev_msix_route;
    discover_mmio();
    phase_end("virtio-mmio probes");
    n_devices += discover_pci(&devices[n_devices], MAX_DEVICES - n_devices);
    phase_end("pci enumeration");

    for (unsigned i = 0; i < n_devices; i++) {
        struct kdev *k = &devices[i];
        const struct kdriver *drv = kdriver_for(k);

        if (kernel_bootarg("lvio.trace"))
            lvio_device_set_trace(&k->dev, trace_event, NULL);
        if (drv)
            drv->run(k);
        else
            run_other(k);
        phase_end_of(drv ? drv->name : "other", true);
    }
    for (const struct kdriver *const *d = kernel_drivers; *d; d++)
        if (!first_of(*d, false))
            kprintf("lvio: no %s devices found\n", (*d)->name);

    /* Two entropy sources that agree are not entropy sources. */
    for (unsigned i = 0; i < n_devices; i++)
        for (unsigned j = i + 1; j < n_devices; j++)
            if (devices[i].has_sample && devices[j].has_sample)
                expect(memcmp(devices[i].sample, devices[j].sample, RNG_SAMPLE) != 0,
                       "%s and %s gave the same bytes", devices[i].dev.name,
                       devices[j].dev.name);

    kprintf("levitate: %u devices, tests took %llu ms\n", n_devices,
            (unsigned long long)((time_ns() - t0) / MS));
    print_interrupts();
    phase_end("summary");
    /* From the kernel's entry to here, where the verdict is known. */
    uint64_t verdict_cycles = cycles();
    struct console_cost con = console_cost();
    for (const struct kdriver *const *d = kernel_drivers; *d; d++) {
        struct kdev *k = first_of(*d, true);
        if (k && kernel_bootarg("soak") && (*d)->soak)
            (*d)->soak(k);
        if (k && opt_bench && (*d)->bench)
            (*d)->bench(k);
    }
    if (opt_bench)
        print_phases(kmain_cycles, verdict_cycles, con);
    if (tests_failed)
        kprintf("levitate: FAIL %u/%u tests\n", tests_failed, tests_run);
    else
        kprintf("levitate: PASS %u tests\n", tests_run);

    if (kernel_bootarg("selftest.fault")) {
        static const uint32_t word = 0x5e1f7e57;
        volatile const uint32_t *bad = (const uint32_t *)(uintptr_t)virt_to_phys(&word);

        kprintf("levitate: selftest.fault: reading through physical address %p\n",
                (const void *)bad);
        kprintf("levitate: selftest.fault: read 0x%x, no fault\n", *bad);
    }

    /* The demo stays up, with the shell. */
    if (!kernel_bootarg("poweroff"))
        stay_up();
}
