/*
 * The in-guest test run's shared pieces (main.c): the device table, test
 * counting and the contract's error line. Drivers' tests live in
 * run_<kind>.c.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include "kernel.h"

#include <lvio/lvio.h>

#include "irq.h"

struct shell_term;

#define MS 1000000ull
#define RNG_SAMPLE 32

/* One device found (MMIO or PCI), probed. */
struct kdev {
    struct lvio_device dev;     /* first: the HAL's callbacks find the kdev */
    void *drv;                  /* the driver runner's state; NULL: none yet */
    bool has_sample;
    uint8_t sample[RNG_SAMPLE]; /* rng: first bytes, compared across devices */
    /* Interrupts (devirq.c): the wired line, when one is attached, and what
     * the handlers saw: ISR bits not yet taken (kdev_take_isr), count. */
    bool wired;
    struct irq_line line;
    volatile uint32_t isr_pending;
    volatile uint32_t interrupts;
};

/* Options from the bootargs (main.c). */
extern bool opt_dump;  /* lvio.dump */
extern bool opt_bench; /* bench */

/* Count one in-guest test; print what failed. Returns ok. */
__attribute__((format(printf, 2, 3))) bool expect(bool ok, const char *fmt, ...);

/* The device's short kind name: "rng", "gpu", ... */
const char *kdev_kind(const struct kdev *k);

/* `lvio: <kind> <transport>@<addr>: error <name> <doing>: <device message>` */
void report_error(struct kdev *k, const char *errname, const char *doing);

/* ---- interrupts of devices (devirq.c) ---- */
struct fdt;
struct fdt_node;
struct pci_host_bridge;
/* Attach the device's wired interrupt: a virtio-mmio node's `interrupts`,
 * a PCI function's INTx pin through the host bridge. Without one (or
 * without a controller) the device is polled. */
void kdev_wire_mmio(struct kdev *k, const struct fdt *fdt, const struct fdt_node *node);
/* Attach a line the platform named (x86 microvm's virtio-mmio: platform.h). */
void kdev_wire_line(struct kdev *k, const struct irq_line *line);
void kdev_wire_pci(struct kdev *k, const struct pci_host_bridge *hb,
                   const struct lvio_pci_function *f);
/* The ISR bits the device's interrupts reported since the last call (an
 * interrupt handler read and so acknowledged them); for a polled device,
 * lvio_device_isr() now. */
uint32_t kdev_take_isr(struct kdev *k);
/* kdev_take_isr once the device's interrupt has come, or timeout_ns have
 * passed (at once for a polled device): for a test that has just seen a
 * completion and wants the interrupt that reported it. */
uint32_t kdev_wait_isr(struct kdev *k, uint64_t timeout_ns);
/* The HAL's msix_route: a message-signalled line per (device, vector),
 * the same one again for a vector routed before. */
int kdev_msix_route(void *ctx, const struct lvio_device *dev, uint16_t vector, uint64_t *addr,
                    uint32_t *data);
/* The device interrupts (a wired line attached, or MSI-X in use). */
bool kdev_interrupts(const struct kdev *k);
/* How the device is serviced, for the end of its ok line: "irq 48",
 * "msi-x 3" (vectors in use) or "polled". */
const char *kdev_service(const struct kdev *k, char *buf, size_t size);

/* Enumerate the PCIe host bridge of the device tree (assigning BARs and bus
 * numbers) and probe every virtio function into devices[0..room-1].
 * Returns how many were filled (pci.c). */
unsigned discover_pci(struct kdev *devices, unsigned room);

/*
 * The kernel's device table (devtab.c): one entry per driver, each defined
 * in its runner (run_<name>.c) as `const struct kdriver kdriver_<name>`.
 * kmain runs `run` for every device of that id; with the bootargs `soak`
 * and `bench`, `soak` and `bench` for the first such device that ran.
 */
struct kdriver {
    uint32_t device_id;         /* LVIO_VIRTIO_ID_* */
    const char *name;           /* the serial contract's short name: "rng" */
    /* Bring the device up, run its in-guest tests, print its lvio: line,
     * and set k->drv (kdev_state) to what soak and bench need. */
    void (*run)(struct kdev *k);
    void (*soak)(struct kdev *k);  /* NULL: nothing to soak */
    void (*bench)(struct kdev *k); /* NULL: nothing to measure */
    /* Without the poweroff bootarg, from the main loop, for every device
     * that ran (k->drv set): take its completions and events. NULL: none. */
    void (*idle)(struct kdev *k);
    /* The shell command named like the driver (`rng 32`), run on the first
     * device that ran; NULL: none. shell_help: its usage, for `help`. */
    void (*shell)(struct kdev *k, struct shell_term *t, int argc, char **argv);
    const char *shell_help;
};
extern const struct kdriver *const kernel_drivers[]; /* NULL-terminated */

/* Up, down (every DMA page must come back: a test), up again, the second
 * bring-up staying: `up` returns 0 or an lvio error, which is returned. */
int kdev_up_twice(struct kdev *k, int (*up)(struct kdev *k), void (*down)(struct kdev *k));

/* Every device found, and how many (main.c). */
struct kdev *kernel_devices(unsigned *n);
/* The first device `drv` drives that ran (k->drv set), or NULL. */
struct kdev *kernel_first_device(const struct kdriver *drv);

/* `size` zeroed bytes of driver state for `k` from the page pool (k->drv
 * is set to them), kept for the boot; NULL when out of memory, which is a
 * failed test and the device's error line. A second call returns the same
 * state. */
void *kdev_state(struct kdev *k, size_t size);

/* Without poweroff: follow display changes (the host resized a window). */
void gpu_idle(void);
/* The pointer on the first screen (run_gpu.c): where it is (false: no
 * screen); put it at (x, y), clamped to the screen, the hardware cursor
 * following; the first screen's size. */
bool gpu_pointer(unsigned *x, unsigned *y);
void gpu_pointer_set(int64_t x, int64_t y);
bool gpu_screen_size(unsigned *w, unsigned *h);
/* Show the test card on the GPU's scanout 0 again (after 3D drew there). */
void gpu_show_card(struct kdev *k);
/* GPU 3D (run_gpu3d.c), for a GPU that negotiated VIRGL (else they do
 * nothing): the VIRGL capset the ok line names (NULL: none); the in-guest
 * 3D tests and their `levitate: gpu3d` lines (after the gpu's ok line, k->drv
 * set); the `bench: gpu3d` figures. */
struct lvio_gpu;
struct lvio_gpu_capset;
const struct lvio_gpu_capset *gpu3d_capset(const struct lvio_gpu *gpu);
void gpu3d_run(struct kdev *k, struct lvio_gpu *gpu);
void gpu3d_bench(struct lvio_gpu *gpu);
/* A fresh frame of the GPU's first 3D context (clear + triangle) shown on
 * scanout 0: 0, LVIO_E_NODEV (no 3D on it), or the library's error. */
int gpu3d_show(struct lvio_gpu *gpu);
/* One `bench: <name>: <value> <unit>` line; the value is given in tenths. */
void bench_line(const char *name, uint64_t tenths, const char *unit);
/* Nanoseconds since cycles() read c0. */
uint64_t bench_elapsed_ns(uint64_t c0);

#endif
