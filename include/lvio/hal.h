/*
 * The HAL: everything the library needs from the host kernel, in one struct
 * of callbacks plus a context pointer. The library never reaches around it:
 * no globals, no libc beyond memcpy/memset/memcmp, no heap.
 *
 * A minimal HAL fills dma_alloc, dma_free and now_ns; map_regs when device
 * registers are not identity mapped; log to see what went wrong.
 * See docs/porting.md for a worked example.
 *
 * Addresses: the device is only ever given *device addresses* (what the
 * device's DMA sees: a physical address in a plain kernel, an IOVA behind an
 * IOMMU). CPU pointers are never given to a device.
 */
#ifndef LVIO_HAL_H
#define LVIO_HAL_H

#include <stddef.h>
#include <stdint.h>

#define LVIO_PAGE_SIZE 4096u

/*
 * Polls in a row without the HAL clock advancing after which a wait ends
 * (see now_ns below). Each poll is a handful of memory reads plus relax(),
 * so 1 000 000 of them take milliseconds on hardware and about 0.3 s under
 * QEMU's TCG. Define it (before including lvio headers, for the library's
 * build too) to change it.
 */
#ifndef LVIO_CLOCK_STALL_POLLS
#define LVIO_CLOCK_STALL_POLLS 1000000
#endif

/* Direction of a shared buffer, from the device's point of view. */
enum lvio_dma_dir {
    LVIO_DMA_TO_DEVICE = 1,   /* device reads it */
    LVIO_DMA_FROM_DEVICE = 2, /* device writes it */
    LVIO_DMA_BIDIRECTIONAL = 3,
};

struct lvio_device;

enum lvio_log_level {
    LVIO_LOG_ERROR = 0,
    LVIO_LOG_WARN = 1,
    LVIO_LOG_INFO = 2,
    LVIO_LOG_DEBUG = 3,
};

struct lvio_hal {
    /* Passed unchanged as the first argument of every callback. */
    void *ctx;

    /*
     * Required. Allocate `pages` physically contiguous pages of
     * LVIO_PAGE_SIZE bytes, aligned to LVIO_PAGE_SIZE and zeroed, that both
     * the CPU and the device can access. Returns the CPU pointer and stores
     * the device address in *dev_addr; returns NULL when out of memory.
     * The library checks that both results are page aligned.
     */
    void *(*dma_alloc)(void *ctx, size_t pages, uint64_t *dev_addr);

    /* Required. Give back an allocation made by dma_alloc, unchanged. */
    void (*dma_free)(void *ctx, void *cpu, size_t pages, uint64_t dev_addr);

    /*
     * Optional. Make a caller-owned buffer visible to the device and store
     * its device address in *dev_addr (identity translation in a plain
     * kernel; a bounce buffer or IOMMU mapping in a confidential guest, which
     * is what VIRTIO_F_ACCESS_PLATFORM is for). The buffer must be
     * contiguous for the device. Returns 0 or a negative lvio_error.
     * Drivers that DMA into caller memory need it; drivers that copy through
     * their own DMA pages (rng) do not.
     */
    int (*share)(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                 uint64_t *dev_addr);

    /* Optional. Undo share() once the device has finished with the buffer. */
    void (*unshare)(void *ctx, const void *buf, size_t len,
                    enum lvio_dma_dir dir, uint64_t dev_addr);

    /*
     * Optional. Map `len` bytes of device registers at physical address
     * `phys` and return a CPU pointer to them, uncached (Device memory on
     * Arm). NULL means the range cannot be mapped. When the callback itself
     * is NULL, registers are assumed identity mapped.
     */
    volatile void *(*map_regs)(void *ctx, uint64_t phys, size_t len);

    /*
     * Required. A monotonic clock in nanoseconds. Every wait on a device is
     * bounded by it: a wait polls (reads the device's answer, calls
     * relax, reads the clock) until its timeout has passed by this clock.
     * A clock that stops cannot make a wait hang: a wait also ends after
     * LVIO_CLOCK_STALL_POLLS polls in a row over which now_ns() did not
     * increase, whatever its timeout (LVIO_E_TIMEOUT, and the message says
     * the clock stood still). So the clock must advance at least once per
     * LVIO_CLOCK_STALL_POLLS polls, on its own: a counter register, or a
     * tick no coarser than about a millisecond that keeps counting while
     * the CPU polls.
     */
    uint64_t (*now_ns)(void *ctx);

    /*
     * Optional. Called on every iteration of a wait loop: a kernel may pause
     * the CPU (yield, wfe), a simulated device may make progress.
     */
    void (*relax)(void *ctx);

    /*
     * Optional. Receives one complete log line (no trailing newline), which
     * starts with the device's name, e.g. "mmio@0x0a003e00: LVIO_E_TIMEOUT: …".
     * Errors explain themselves here: which device, queue, index, time.
     */
    void (*log)(void *ctx, enum lvio_log_level level, const char *line);

    /* Messages above this level are not formatted at all. */
    enum lvio_log_level log_level;

    /*
     * Optional register access override, for hypervisors that trap
     * accesses, for simulated devices in tests and for fuzzers. When NULL
     * the library uses plain volatile 32-bit (or narrower) loads and stores.
     * `width` is 1, 2 or 4 bytes; values are in CPU order.
     */
    uint32_t (*reg_read)(void *ctx, volatile void *addr, unsigned width);
    void (*reg_write)(void *ctx, volatile void *addr, unsigned width,
                      uint32_t value);

    /*
     * Optional, PCI only: where MSI-X table entry `vector` of `dev` is to
     * send its message. Store the message address and data the platform's
     * interrupt controller expects in *addr and *data:
     *   - GICv2m: the frame's MSI_SETSPI_NS address (frame + 0x40) and an
     *     SPI number of the frame's range;
     *   - GICv3 ITS: the ITS's GITS_TRANSLATER address (ITS + 0x10040) and
     *     an event id (of a device id and ITT the kernel has mapped);
     *   - x86: 0xfee00000 | apic_id << 12 and an IDT vector.
     * The kernel records (dev, vector) -> its handler, which then calls
     * lvio_device_msix_isr(dev, vector) (see lvio/virtio.h). The address
     * must be 4-byte aligned (MSI addresses are). It may be called again
     * for the same (dev, vector) after a reset (every lvio_device_begin
     * programs the table afresh) and must then answer the same. Returns 0,
     * or a negative lvio_error: the device then runs without MSI-X
     * (interrupts through the ISR status, INTx), and the log says why.
     * When NULL, no device uses MSI-X.
     */
    int (*msix_route)(void *ctx, const struct lvio_device *dev, uint16_t vector,
                      uint64_t *addr, uint32_t *data);

    /*
     * Optional, PCI only: I/O port access, for a CPU with an I/O space of
     * its own (x86's in and out). Set both or neither. When set, a BAR
     * the kernel describes with `io` true holds a port number in `phys`
     * (the BAR's value): the library never maps or dereferences it, and
     * every register access in it (a legacy device's whole interface) is
     * port_read / port_write of `port` = phys + offset, `width` 1, 2 or 4
     * bytes, values in CPU order (the port's little-endian value, as in
     * and out give it). A BAR at port 0 counts as unassigned. When NULL,
     * I/O space is memory-mapped (Arm and RISC-V host bridges decode it in
     * a CPU memory window): an I/O BAR's phys is that window's address and
     * is mapped with map_regs like any BAR.
     */
    uint32_t (*port_read)(void *ctx, uint64_t port, unsigned width);
    void (*port_write)(void *ctx, uint64_t port, unsigned width, uint32_t value);
};

#endif
