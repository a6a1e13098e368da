/*
 * A simulated virtio-pci function for host tests, built on the simulator in
 * sim.h (its HAL, DMA memory and split-ring model): a 4096-byte PCI
 * configuration space laid out the way QEMU's virtio-pci lays it out, the
 * modern structures in a 64-bit memory BAR 4 of 16 KiB (common 0x0000,
 * ISR 0x1000, device 0x2000, notify 0x3000, notify_off_multiplier 4,
 * queue_notify_off = queue index), an MSI-X BAR 1 nobody may touch, and for
 * legacy / transitional functions the I/O BAR 0 register block.
 *
 * The BARs are plain host arrays; the function handed to the probe gives
 * them fake physical addresses, which only the HAL's map_regs translates.
 * Every register access the library makes is checked: outside configuration
 * space and the ranges map_regs handed out, on no field of the structure
 * it falls in, with the wrong width, a write to a read-only field, a notify
 * at the wrong address. Each is an error string in s.error (first one kept),
 * so a test that asserts s.error is "" fails on it.
 *
 * Knobs are plain fields: change the identity fields or caps[] and call
 * sim_pci_build() to rewrite configuration space; change fn (BAR sizes,
 * kinds) or poke cfg[] directly for anything build cannot express.
 */
#ifndef SIM_PCI_H
#define SIM_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define SIM_PCI_CFG_SIZE 4096u
#define SIM_PCI_BAR_BYTES 0x4000u   /* host storage behind each BAR */
#define SIM_PCI_MAX_CAPS 12
#define SIM_PCI_MAX_MAPS 64
#define SIM_PCI_MAX_LOG 512

/* Where the enumerator "assigned" the BARs (CPU physical addresses). */
#define SIM_PCI_IO_PHYS 0x3eff1000ull      /* BAR 0: port 0x1000 in virt's I/O window */
#define SIM_PCI_IO_PORT 0x1000u
#define SIM_PCI_MSIX_PHYS 0x10040000ull    /* BAR 1: the MSI-X table */
#define SIM_PCI_MEM_PHYS 0x8000000000ull   /* BAR 4: the modern structures */
#define SIM_PCI_MODERN_BAR 4

/* QEMU's layout of BAR 4. */
#define SIM_PCI_COMMON_OFF 0x0000u
#define SIM_PCI_ISR_OFF 0x1000u
#define SIM_PCI_DEVICE_OFF 0x2000u
#define SIM_PCI_NOTIFY_OFF 0x3000u
#define SIM_PCI_REGION_LEN 0x1000u
#define SIM_PCI_NOTIFY_MULT 4u

enum sim_pci_kind {
    SIM_PCI_MODERN,       /* 0x1040 + type, vendor capabilities only */
    SIM_PCI_TRANSITIONAL, /* 0x1000 + n, type in the subsystem id, both */
    SIM_PCI_LEGACY,       /* 0x1000 + n, disable-modern: I/O BAR 0 only */
};

/* One capability of the list, in list order (build links them so). */
struct sim_pci_cap {
    uint8_t pos;       /* offset in configuration space */
    uint8_t id;        /* LVIO_PCI_CAP_ID_VNDR or LVIO_PCI_CAP_ID_MSIX */
    uint8_t cap_len;   /* vendor caps: the cap_len byte */
    uint8_t cfg_type;  /* vendor caps: LVIO_VIRTIO_PCI_CAP_* */
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
    uint32_t mult;     /* notify: notify_off_multiplier */
};

/* One access to the common configuration structure, for order checks. */
struct sim_pci_access {
    bool write;
    uint8_t width;
    uint16_t off;      /* within the common structure */
    uint32_t value;
};

/* A range map_regs handed out. */
struct sim_pci_map {
    uint64_t phys;
    size_t len;
    uintptr_t cpu;
    unsigned bar;
};

struct sim_pci {
    struct sim s;                 /* first: the HAL's ctx is &s */
    enum sim_pci_kind kind;
    struct lvio_pci_function fn;  /* what the test hands to lvio_pci_probe */

    /* Configuration space and the storage behind the BARs. */
    uint8_t cfg[SIM_PCI_CFG_SIZE];
    uint8_t bar_mem[LVIO_PCI_NUM_BARS][SIM_PCI_BAR_BYTES];

    /* Identity and capabilities, written into cfg[] by sim_pci_build(). */
    uint16_t vendor, pci_device, subsys_vendor, subsys_id;
    uint16_t command, pci_status;
    uint8_t revision;
    bool msix_enabled;            /* MSI-X message control bit 15 */
    struct sim_pci_cap caps[SIM_PCI_MAX_CAPS];
    unsigned ncaps;

    /* Modern device behaviour. */
    uint16_t notify_off[SIM_MAX_QUEUES]; /* queue_notify_off per queue */
    uint16_t num_queues;          /* 0: highest queue with a size, plus one */
    uint32_t stuck_queues;        /* bit n: queue n stays enabled (modern) or
                                     keeps a PFN (legacy) across a reset */

    /* map_regs. */
    bool fail_map;                /* map_regs returns NULL */
    struct sim_pci_map maps[SIM_PCI_MAX_MAPS];
    unsigned nmaps;

    /* What the library did. */
    unsigned cfg_reads;
    unsigned cfg_writes;          /* always an error: the probe only reads */
    unsigned dev_writes;          /* writes to any device register */
    unsigned modern_accesses;
    unsigned legacy_accesses;
    unsigned isr_reads;
    unsigned msix_vector_writes;
    uint32_t last_notify_off;     /* offset within the notify structure */
    uint16_t last_notify_queue;
    struct sim_pci_access log[SIM_PCI_MAX_LOG]; /* common cfg accesses */
    unsigned nlog;
};

/* A fresh function of `kind` for virtio device type `device_id`: QEMU's
 * layout, decoding and bus mastering enabled, reset state. */
void sim_pci_init(struct sim_pci *p, enum sim_pci_kind kind, uint32_t device_id);

/* Rewrite configuration space from the identity fields and caps[]. */
void sim_pci_build(struct sim_pci *p);

/* The first capability of virtio cfg_type `type` in caps[], or NULL. */
struct sim_pci_cap *sim_pci_cap(struct sim_pci *p, uint8_t type);

/* Remove caps[i] from the list (call sim_pci_build() afterwards). */
void sim_pci_drop_cap(struct sim_pci *p, unsigned i);

/* lvio_pci_probe() on the function; returns what it returned. */
int sim_pci_probe(struct sim_pci *p, struct lvio_device *dev);

/* Forget the common cfg access log. */
void sim_pci_clear_log(struct sim_pci *p);

/* Index in log[] of the first (from `from`) access to common offset `off`
 * that is a write (`write`) or read; -1 when there is none. */
int sim_pci_find_access(const struct sim_pci *p, unsigned from, bool write, uint16_t off);

#endif
