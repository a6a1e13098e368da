/*
 * A virtio device, whatever its transport: initialisation in the order the
 * specification gives (3.1.1), feature negotiation, status, configuration
 * space, interrupt status, diagnostics.
 *
 * Typical usage (see also lvio/mmio.h and the drivers):
 *
 *     struct lvio_device dev;                      // caller's storage
 *     lvio_mmio_probe(&dev, &hal, 0x0a003e00, 0x200); // transport: finds it
 *     lvio_rng_init(&rng, &dev);                   // driver: negotiates,
 *                                                  // sets up queues, DRIVER_OK
 *
 * A driver's init does, through this header:
 *     lvio_device_begin(dev, wanted)   reset, ACKNOWLEDGE, DRIVER, features,
 *                                      FEATURES_OK read back
 *     lvio_vq_setup(...)               each virtqueue
 *     lvio_device_driver_ok(dev)       DRIVER_OK
 * and on any failure lvio_device_fail(dev) sets FAILED.
 *
 * Fields are tagged with who sets them. Nothing here is global: any number
 * of devices may coexist.
 *
 * Interrupts and concurrency. The library takes no locks. Calls on one
 * device (and on its driver, queues and framebuffers) must not run at the
 * same time: the caller serialises them, and none of them may interrupt
 * another. The exceptions, which an interrupt handler may call at any
 * time, are:
 *   - lvio_device_isr(), which only reads (and thereby acknowledges) the
 *     interrupt status register: the INTx (and MMIO) handler's call;
 *   - lvio_device_msix_isr() and lvio_device_msix_vectors(), which touch
 *     no register and only read what lvio_device_begin and queue setup
 *     recorded: the MSI-X handler's call (a message needs no
 *     acknowledging at the device).
 * The handler hands the bits to the driver's poll (lvio_rng_poll,
 * lvio_gpu_poll) in thread context, where the completions are taken.
 * dev->irq_mode says which of the two handlers the device uses; it is
 * settled once the driver's init has returned. A driver's queues are the
 * driver's: a caller never takes completions off them with lvio_vq_get.
 * Calls on different devices are independent.
 */
#ifndef LVIO_VIRTIO_H
#define LVIO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hal.h"
#include "spec/virtio_config.h"
#include "spec/virtio_pci.h"
#include "transport_state.h"

/* Bound on waiting for a reset to complete (status reads back 0). */
#ifndef LVIO_RESET_TIMEOUT_NS
#define LVIO_RESET_TIMEOUT_NS 1000000000ull
#endif

#define LVIO_ERRMSG_SIZE 256

struct lvio_device;
struct lvio_virtqueue;
struct lvio_transport_ops; /* private to the library */

/* How a device interrupts (dev->irq_mode). */
enum lvio_irq_mode {
    /* One interrupt line; the cause is read from the ISR status with
     * lvio_device_isr(). Every MMIO device; a PCI device without MSI-X
     * (absent, unusable, refused, or switched off with dev->msix_off). */
    LVIO_IRQ_INTX = 0,
    /* PCI MSI-X: one message per vector, told apart by
     * lvio_device_msix_isr(); the ISR status is not used. */
    LVIO_IRQ_MSIX = 1,
};

enum lvio_transport {
    LVIO_TRANSPORT_MMIO = 1,
    LVIO_TRANSPORT_PCI = 2,
};

/* What the optional trace hook is told about. */
enum lvio_trace_kind {
    LVIO_TRACE_REG_WRITE,  /* offset, value */
    LVIO_TRACE_NOTIFY,     /* queue, value = avail idx published */
    LVIO_TRACE_COMPLETE,   /* queue, id, len (after clamping) */
    LVIO_TRACE_STATUS,     /* value = new status written */
};

struct lvio_trace_event {
    enum lvio_trace_kind kind;
    const struct lvio_device *dev;
    uint32_t offset; /* register offset (REG_WRITE) */
    uint32_t value;
    uint16_t queue;
    uint32_t id;
    uint32_t len;
};

typedef void (*lvio_trace_fn)(void *ctx, const struct lvio_trace_event *ev);

struct lvio_device {
    /* Set by the transport's probe. */
    const struct lvio_transport_ops *ops;
    const struct lvio_hal *hal;
    enum lvio_transport transport;
    uint32_t version;      /* interface: 1 legacy, 2 modern (MMIO's Version) */
    bool legacy;           /* pre-1.0 interface: guest-endian, no FEATURES_OK */
    uint32_t device_id;    /* LVIO_VIRTIO_ID_* */
    uint32_t vendor_id;
    uint64_t phys;         /* physical address of the registers */
    char name[32];         /* "mmio@0x0a003e00", "pci@00:02.0", for messages */
    /* May be set by the caller after the probe, before a driver's init:
     * feature bits never to accept, e.g. (1ull << LVIO_VIRTIO_F_EVENT_IDX)
     * or (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) to run the ring without
     * them. VERSION_1 cannot be refused. The probe sets it to 0. */
    uint64_t features_refused;

    /* May be set by the caller after the probe, before a driver's init:
     * true to take interrupts through the ISR status (INTx) even when the
     * device has a usable MSI-X table and the HAL a msix_route. The probe
     * sets it false. */
    bool msix_off;

    /* Set by the transport in lvio_device_begin(), and back to INTx when
     * a PCI device gives up MSI-X during queue setup (logged as a
     * warning): how the device interrupts. The probe sets LVIO_IRQ_INTX. */
    enum lvio_irq_mode irq_mode;

    /* Set by the core during lvio_device_begin(). */
    uint64_t features_offered;
    uint64_t features_accepted;
    uint8_t status;        /* last status written */

    /* Set by lvio_device_reset(): true while the last reset never
     * completed (status did not read back 0 within LVIO_RESET_TIMEOUT_NS).
     * Such a device may still read and write every ring and buffer it was
     * given, so from then on the library never frees DMA memory nor
     * unshares buffers of this device: it keeps them, and counts them
     * here. A later reset that completes clears `dead` (what was kept
     * stays kept: the library no longer knows where it was). */
    bool dead;
    uint32_t kept_pages;   /* DMA pages kept instead of freed */
    uint32_t kept_shares;  /* shares kept instead of unshared */

    /* Set by lvio_vq_setup() / lvio_vq_teardown(): the queues set up, a
     * list through the caller's own struct lvio_virtqueue storage, so a
     * device may have as many as its transport offers. */
    struct lvio_virtqueue *queues;

    /* Set by lvio_device_set_trace(). */
    lvio_trace_fn trace;
    void *trace_ctx;

    /* Set by any failing call: what exactly went wrong. */
    char errmsg[LVIO_ERRMSG_SIZE];

    /* The transport's own state (lvio/transport_state.h): storage only.
     * Set by the probe and used by src/transport/; callers never read or
     * write it, and its layout changes between versions. What a caller may
     * need of it is public through calls: lvio_pci_location(). */
    union lvio_transport_state transport_state;
};

/* Bit `bit` (a LVIO_VIRTIO_F_* or device feature number) set in `features`? */
static inline bool lvio_has_feature(uint64_t features, unsigned bit)
{
    return bit < 64 && ((features >> bit) & 1u) != 0;
}

/*
 * Every call below accepts any pointer: NULL, or a device whose probe
 * failed (no transport), is LVIO_E_INVAL for calls that return an error,
 * and does nothing (returning 0) for the others.
 */

/*
 * Reset the device and bring it to the point where queues can be set up:
 * reset (waiting for status 0), ACKNOWLEDGE, DRIVER, read every feature
 * word, accept `wanted` & offered (plus VERSION_1, ACCESS_PLATFORM,
 * INDIRECT_DESC and EVENT_IDX when offered; less dev->features_refused),
 * FEATURES_OK and read it back. A modern device that does not
 * offer VERSION_1 is refused. Then interrupts: a PCI device with a usable
 * MSI-X table, when hal->msix_route is set and dev->msix_off is not, gets
 * MSI-X enabled and its configuration vector programmed (see lvio/pci.h);
 * otherwise MSI-X is switched off. dev->irq_mode says which; a device that
 * refuses a vector runs on INTx, with a warning, not an error. On every
 * failure the device is left FAILED.
 * Returns 0, LVIO_E_DEAD (the reset never completed), LVIO_E_FEATURES,
 * LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET or LVIO_E_INVAL.
 */
int lvio_device_begin(struct lvio_device *dev, uint64_t wanted);

/*
 * Set DRIVER_OK after the queues are ready; then check the device is
 * happy. Returns 0, LVIO_E_NEEDS_RESET, LVIO_E_INVAL, or LVIO_E_STATE when
 * the device is not between lvio_device_begin and DRIVER_OK (it would be
 * told DRIVER_OK without having negotiated anything).
 */
int lvio_device_driver_ok(struct lvio_device *dev);

/* Set FAILED: we gave up on this device. */
void lvio_device_fail(struct lvio_device *dev);

/*
 * Write 0 to status and wait (bounded by LVIO_RESET_TIMEOUT_NS) until the
 * device reads back 0. Afterwards the device no longer touches any queue
 * memory, so queues can be torn down. Returns 0, LVIO_E_INVAL, or
 * LVIO_E_DEAD: the status never read 0, so the device may still use its
 * rings and buffers; dev->dead is set and the library keeps (never frees)
 * the memory this device was given — teardown then leaks it on purpose
 * and counts it in dev->kept_pages / dev->kept_shares.
 */
int lvio_device_reset(struct lvio_device *dev);

/* Read the device status register (0 for an invalid device). */
uint8_t lvio_device_status(struct lvio_device *dev);

/* 0, LVIO_E_INVAL, or LVIO_E_NEEDS_RESET when the device has set
 * DEVICE_NEEDS_RESET. */
int lvio_device_check(struct lvio_device *dev);

/*
 * Read and acknowledge the interrupt status: LVIO_VIRTIO_ISR_QUEUE (used
 * buffer notification) and LVIO_VIRTIO_ISR_CONFIG (configuration change).
 * 0 for an invalid device.
 */
uint32_t lvio_device_isr(struct lvio_device *dev);

/*
 * For a device in LVIO_IRQ_MSIX mode: the interrupt status bits that a
 * message on MSI-X `vector` stands for, to hand to the driver's poll
 * exactly as an INTx handler hands it lvio_device_isr()'s bits:
 * LVIO_VIRTIO_ISR_CONFIG when `vector` is the configuration vector,
 * LVIO_VIRTIO_ISR_QUEUE when a queue set up since lvio_device_begin uses
 * it, both when they share it. Reads no register (may run in an interrupt
 * handler). 0 for any other vector, a device not using MSI-X, NULL or an
 * unprobed device.
 */
uint32_t lvio_device_msix_isr(struct lvio_device *dev, uint16_t vector);

/*
 * Distinct MSI-X vectors the device uses (configuration and queues): a
 * kernel prints "msi-x <n>" when it is non-zero, else its INTx line
 * ("irq <n>") or "polled". 0 for a device not using MSI-X, NULL or an
 * unprobed device. Reads no register.
 */
unsigned lvio_device_msix_vectors(const struct lvio_device *dev);

/*
 * Copy `len` bytes of device configuration at `offset` into `buf`, in the
 * device's byte order, consistently: re-read while the configuration
 * generation changes (bounded). Returns 0, LVIO_E_INVAL or LVIO_E_CONFIG.
 */
int lvio_config_read(struct lvio_device *dev, uint32_t offset, void *buf,
                     uint32_t len);

/*
 * One configuration field at `offset`, as a number in CPU order: a modern
 * device's fields are little-endian, a legacy device's in the guest's own
 * order; read under the generation counter like lvio_config_read. A 64-bit
 * field of a legacy device (no generation counter) is read until two reads
 * agree (bounded), so a value the device changes meanwhile is not torn.
 * Returns 0, LVIO_E_INVAL (NULL, unprobed device, offset past 4096) or
 * LVIO_E_CONFIG (the field kept changing).
 */
int lvio_config_read8(struct lvio_device *dev, uint32_t offset, uint8_t *value);
int lvio_config_read16(struct lvio_device *dev, uint32_t offset, uint16_t *value);
int lvio_config_read32(struct lvio_device *dev, uint32_t offset, uint32_t *value);
int lvio_config_read64(struct lvio_device *dev, uint32_t offset, uint64_t *value);

/*
 * Write `len` bytes of device configuration at `offset` from `buf`, in the
 * device's byte order (4-byte accesses where aligned, else single bytes).
 * Returns 0 or LVIO_E_INVAL.
 */
int lvio_config_write(struct lvio_device *dev, uint32_t offset, const void *buf,
                      uint32_t len);

/*
 * Shared memory region `id` of the device (VIRTIO 1.2, 2.10): where it is
 * for the device and the CPU alike (a physical address in the device's
 * BAR, or MMIO's SHMBase), into *addr, and its bytes into *len. PCI: the
 * VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capability with that id (64-bit offset
 * and length) in a memory BAR; MMIO Version 2: SHMSel, SHMLen and SHMBase,
 * a region being absent when its length reads all ones. Returns 0,
 * LVIO_E_NODEV (no such region, or a transport without them: legacy),
 * LVIO_E_CONFIG (a region that lies outside its BAR) or LVIO_E_INVAL.
 * The region is not mapped: the caller maps what it uses.
 */
int lvio_device_shm(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len);

/* Install (or remove with NULL) a hook told of every register write,
 * status change, notify and completion on this device. Returns 0 or
 * LVIO_E_INVAL (dev NULL). */
int lvio_device_set_trace(struct lvio_device *dev, lvio_trace_fn fn,
                          void *ctx);

/* The message recorded by the last failing call on this device ("" if
 * none, or dev NULL); never NULL. */
const char *lvio_device_error(const struct lvio_device *dev);

/* Short name of a device type: "rng", "gpu", "blk", …, or "unknown". */
const char *lvio_device_type_name(uint32_t device_id);

/*
 * Print the device's whole state through the HAL log: transport and
 * version, device and vendor id, features offered and accepted, status
 * bits, how it interrupts (PCI: MSI-X and its vectors, or why not), and
 * for each queue its size, the device addresses of its three
 * parts, avail idx, used idx (as the device wrote it), last seen used idx,
 * free descriptors and requests in flight.
 */
void lvio_dump(struct lvio_device *dev);

#endif
