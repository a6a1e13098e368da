/*
 * The in-guest test run's shared pieces (main.c): the device table, test
 * counting and the contract's error line. Drivers' tests live in
 * run_<kind>.c.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include "kernel.h"

#include <lvio/lvio.h>

#define MS 1000000ull
#define RNG_SAMPLE 32

struct kdev {
    struct lvio_device dev;
    union {
        struct lvio_rng rng;
        struct lvio_gpu gpu;
    } drv;
    bool has_sample;
    uint8_t sample[RNG_SAMPLE]; /* rng: first bytes, compared across devices */
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

/* Enumerate the PCIe host bridge of the device tree (assigning BARs and bus
 * numbers) and probe every virtio function into devices[0..room-1].
 * Returns how many were filled (pci.c). */
unsigned discover_pci(struct kdev *devices, unsigned room);

void run_rng(struct kdev *k);
void run_gpu(struct kdev *k);
/* Without poweroff: follow display changes (the host resized a window). */
void gpu_idle(void);
/* Bootarg soak: many requests / presents, nothing may leak. */
void soak_rng(struct kdev *k, uint64_t requests);
void soak_gpu(unsigned presents, unsigned cycles);
/* Benchmarks on the first GPU that came up, and on an rng (bootarg bench). */
void bench_gpu(void);
void bench_rng(struct kdev *k);
/* One `bench: <name>: <value> <unit>` line; the value is given in tenths. */
void bench_line(const char *name, uint64_t tenths, const char *unit);
/* Nanoseconds since cycles() read c0. */
uint64_t bench_elapsed_ns(uint64_t c0);

#endif
