/*
 * The test kernel's struct lvio_hal: how the library reaches memory, device
 * registers, time and the console in this kernel. It is the worked example
 * of docs/porting.md.
 *
 * Addresses: DMA pages come from dma.c's pool and are used through the
 * linear map, so the CPU pointer (aarch64 0xffff0000_4xxxxxxx, riscv64
 * 0xffffffc0_8xxxxxxx) and the device address (0x4xxxxxxx, 0x8xxxxxxx)
 * always differ: a driver that handed a CPU pointer to
 * the device would fail at once. On x86 (x86_64 0xffff8000_0xxxxxxx) I/O
 * BARs are port space: the HAL's port_read/port_write are in and out.
 */
#include "irq.h"
#include "kernel.h"

#include <lvio/lvio.h>

static void *hal_dma_alloc(void *ctx, size_t pages, uint64_t *dev_addr)
{
    (void)ctx;
    return dma_alloc_pages(pages, dev_addr);
}

static void hal_dma_free(void *ctx, void *cpu, size_t pages, uint64_t dev_addr)
{
    (void)ctx;
    (void)dev_addr;
    dma_free_pages(cpu, pages);
}

/*
 * No IOMMU and no bounce buffers: a buffer's device address is its physical
 * address. The linear map and the kernel image are both physically
 * contiguous, so a buffer contiguous in one of them is contiguous for the
 * device; a buffer that spans the end of one is refused.
 */
static int hal_share(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                     uint64_t *dev_addr)
{
    uint64_t first, last;

    (void)ctx;
    (void)dir;
    if (len == 0)
        return LVIO_E_INVAL;
    first = virt_to_phys(buf);
    last = virt_to_phys((const uint8_t *)buf + len - 1);
    if (first == PHYS_INVALID || last == PHYS_INVALID || last - first != len - 1)
        return LVIO_E_INVAL;
    *dev_addr = first;
    return LVIO_OK;
}

static void hal_unshare(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                        uint64_t dev_addr)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)dir;
    (void)dev_addr;
}

static volatile void *hal_map_regs(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    return ioremap(phys, len);
}

/* Bootarg hal.clock_stopped: the library's clock stands still (the test of
 * the library's stopped-clock bound); the kernel's own timing is unchanged. */
static bool clock_stopped;
static uint64_t clock_frozen_at;

void kernel_hal_stop_clock(void)
{
    clock_frozen_at = time_ns();
    clock_stopped = true;
}

static uint64_t hal_now_ns(void *ctx)
{
    (void)ctx;
    return clock_stopped ? clock_frozen_at : time_ns();
}

/* Sleep until an interrupt (or a short tick): irq.c. With the clock
 * stopped (the bootarg's test of the library's stall bound, which counts
 * polls) only pause: a million sleeps of a tick each would take minutes. */
static void hal_relax(void *ctx)
{
    (void)ctx;
    if (clock_stopped)
        arch_pause();
    else
        cpu_relax();
}

/* x86: a legacy virtio-pci device's I/O BAR is real port space. */
static uint32_t hal_port_read(void *ctx, uint64_t port, unsigned width)
{
    (void)ctx;
    return port_read(port, width);
}

static void hal_port_write(void *ctx, uint64_t port, unsigned width, uint32_t value)
{
    (void)ctx;
    port_write(port, width, value);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void hal_log(void *ctx, enum lvio_log_level level, const char *line)
{
    (void)ctx;
    kprintf("  [lvio %s] %s\n",
            (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level] : "?", line);
}

static struct lvio_hal the_hal = {
    .ctx = NULL,
    .dma_alloc = hal_dma_alloc,
    .dma_free = hal_dma_free,
    .share = hal_share,
    .unshare = hal_unshare,
    .map_regs = hal_map_regs,
    .now_ns = hal_now_ns,
    .relax = hal_relax,
    .log = hal_log,
    .log_level = LVIO_LOG_WARN,
};

struct lvio_hal *kernel_hal(void)
{
    if (arch_has_ports() && !the_hal.port_read) {
        the_hal.port_read = hal_port_read;
        the_hal.port_write = hal_port_write;
    }
    return &the_hal;
}
