/*
 * A simulated virtio-pci function for host tests, built on the simulator in
 * sim.h (its HAL, DMA memory and split-ring model): a 4096-byte PCI
 * configuration space laid out the way QEMU's virtio-pci lays it out, the
 * modern structures in a 64-bit memory BAR 4 of 16 KiB (common 0x0000,
 * ISR 0x1000, device 0x2000, notify 0x3000, notify_off_multiplier 4,
 * queue_notify_off = queue index), the MSI-X table and PBA in memory BAR 1
 * (table at 0, PBA at 0x800, 4 entries by default), and for legacy /
 * transitional functions the I/O BAR 0 register block.
 *
 * MSI-X as QEMU models it: Message Control's enable and function mask bits
 * are the only configuration space the driver may write (any other write
 * is an error); the table's entries start masked; the configuration and
 * queue vector registers keep what is written unless the device refuses
 * it (a vector past the table, or a knob below): then they read
 * VIRTIO_MSI_NO_VECTOR. With MSI-X enabled, a used buffer or a
 * configuration change (sim_pci_config_change) sends its vector's message
 * -- recorded in msgs[] when the entry and the function are unmasked, else
 * held as a pending bit and sent on unmasking -- and the ISR status is not
 * used; without MSI-X the ISR status bit is set (INTx). Writing an entry's
 * address or data while it could fire is an error. The HAL gets no
 * msix_route unless a test installs sim_pci_msix_route.
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
#define SIM_PCI_MSIX_MAX 64       /* table entries the model holds */
#define SIM_PCI_MAX_MSGS 256

/* Where the enumerator "assigned" the BARs (CPU physical addresses). */
#define SIM_PCI_IO_PHYS 0x3eff1000ull      /* BAR 0: port 0x1000 in virt's I/O window */
#define SIM_PCI_IO_PORT 0x1000u
#define SIM_PCI_MSIX_PHYS 0x10040000ull    /* BAR 1: the MSI-X table */
#define SIM_PCI_MEM_PHYS 0x8000000000ull   /* BAR 4: the modern structures */
#define SIM_PCI_MODERN_BAR 4
#define SIM_PCI_MSIX_BAR 1

/* What sim_pci_msix_route answers: a GICv2m frame's MSI_SETSPI_NS address
 * (QEMU virt's frame at 0x08020000) and an SPI number per (function,
 * vector). */
#define SIM_PCI_MSI_ADDR 0x08020040ull
#define SIM_PCI_MSI_SPI_BASE 80u

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
    /* shared memory (cfg_type LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, a
     * struct virtio_pci_cap64): its shmid, and the high halves */
    uint8_t shmid;
    uint32_t offset_hi, length_hi;
};

/* One access to the common configuration structure, for order checks. */
struct sim_pci_access {
    bool write;
    uint8_t width;
    uint16_t off;      /* within the common structure */
    uint32_t value;
};

/* One MSI-X table entry, as the driver wrote it. */
struct sim_pci_msix_entry {
    uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

/* A message the function sent: a write of `data` to `addr`. */
struct sim_pci_msg {
    uint64_t addr;
    uint32_t data;
    uint16_t vector;
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
    struct sim_pci_cap caps[SIM_PCI_MAX_CAPS];
    unsigned ncaps;

    /* Modern device behaviour. */
    uint16_t notify_off[SIM_MAX_QUEUES]; /* queue_notify_off per queue */
    uint16_t num_queues;          /* 0: highest queue with a size, plus one */
    uint32_t stuck_queues;        /* bit n: queue n stays enabled (modern) or
                                     keeps a PFN (legacy) across a reset */

    /* MSI-X. The capability (in caps[]) says: msix_size entries at BAR
     * msix_bar + msix_table_off, the PBA at msix_pba_off (written by
     * sim_pci_build, so a test may make them wrong). */
    uint16_t msix_size;           /* 1..SIM_PCI_MSIX_MAX; default 4 */
    uint8_t msix_bar;             /* the BIR field, default SIM_PCI_MSIX_BAR */
    uint32_t msix_table_off, msix_pba_off;
    bool msix_enabled;            /* Message Control bit 15 */
    bool msix_masked;             /* Message Control bit 14: function mask */
    struct sim_pci_msix_entry msix_table[SIM_PCI_MSIX_MAX];
    uint64_t msix_pending;        /* the PBA */
    uint16_t config_vector;       /* as the device took them */
    uint16_t queue_vector[SIM_MAX_QUEUES];
    bool refuse_config_vector;    /* config_msix_vector reads NO_VECTOR */
    uint32_t refuse_queue_vector; /* bit n: queue n's vector reads NO_VECTOR */
    uint16_t vector_limit;        /* vectors >= this read NO_VECTOR; 0: the
                                     table size (QEMU's rule) */
    uint16_t vector_xor;          /* a vector register keeps what is written
                                     xor this (a broken device) */
    int route_result;             /* sim_pci_msix_route returns this ... */
    uint16_t route_fail_from;     /* ... for vectors >= this (default never) */
    unsigned route_calls;
    struct sim_pci_msg msgs[SIM_PCI_MAX_MSGS];
    unsigned nmsgs;

    /* x86 port I/O (sim_pci_use_ports): the HAL has port_read/port_write
     * and BAR 0 holds port SIM_PCI_IO_PORT; mapping an I/O BAR is then an
     * error. */
    bool ports;
    unsigned port_accesses;

    /* map_regs. */
    bool fail_map;                /* map_regs returns NULL */
    struct sim_pci_map maps[SIM_PCI_MAX_MAPS];
    unsigned nmaps;

    /* What the library did. */
    unsigned cfg_reads;
    unsigned cfg_writes;          /* every write (only MSI-X Message Control
                                     is allowed, never by the probe) */
    unsigned msix_ctrl_writes;    /* of those, to Message Control */
    unsigned dev_writes;          /* writes to any device register */
    unsigned modern_accesses;
    unsigned legacy_accesses;
    unsigned isr_reads;
    unsigned msix_vector_writes;  /* config and queue vector registers */
    unsigned msix_table_writes;
    uint32_t last_notify_off;     /* offset within the notify structure */
    uint16_t last_notify_queue;
    struct sim_pci_access log[SIM_PCI_MAX_LOG]; /* common cfg accesses */
    unsigned nlog;
};

/* The bus a device model sits on, and its simulator either way (the sim
 * first in both): for device models that run on all four (sim_net). */
enum sim_bus {
    SIM_BUS_MMIO1,      /* virtio-mmio Version 1 (legacy) */
    SIM_BUS_MMIO2,      /* virtio-mmio Version 2 */
    SIM_BUS_PCI,        /* modern virtio-pci */
    SIM_BUS_PCI_LEGACY, /* legacy virtio-pci (I/O BAR) */
};
union sim_dev {
    struct sim sim;
    struct sim_pci pci;
};

/* A fresh simulator of device type `device_id` on `bus`. */
void sim_dev_init(union sim_dev *d, enum sim_bus bus, uint32_t device_id);
/* Probe it (lvio_mmio_probe or lvio_pci_probe); asserts success. */
void sim_dev_probe(union sim_dev *d, enum sim_bus bus, struct lvio_device *dev);
/* A configuration change notice: MMIO's ISR bit (and the generation), or
 * sim_pci_config_change. */
void sim_dev_config_change(union sim_dev *d, enum sim_bus bus);

/* A fresh function of `kind` for virtio device type `device_id`: QEMU's
 * layout, decoding and bus mastering enabled, reset state. */
void sim_pci_init(struct sim_pci *p, enum sim_pci_kind kind, uint32_t device_id);

/* Rewrite configuration space from the identity fields and caps[]. */
void sim_pci_build(struct sim_pci *p);

/* The first capability of virtio cfg_type `type` in caps[], or NULL. */
struct sim_pci_cap *sim_pci_cap(struct sim_pci *p, uint8_t type);

/* Remove caps[i] from the list (call sim_pci_build() afterwards). */
void sim_pci_drop_cap(struct sim_pci *p, unsigned i);

/* Make the function an x86 one: BAR 0 at port SIM_PCI_IO_PORT, reached
 * through the HAL's port_read/port_write (each access checked as a mapped
 * one is). */
void sim_pci_use_ports(struct sim_pci *p);

/* lvio_pci_probe() on the function; returns what it returned. */
int sim_pci_probe(struct sim_pci *p, struct lvio_device *dev);

/* The HAL's msix_route for tests that install it (p->s.hal.msix_route):
 * SIM_PCI_MSI_ADDR and sim_pci_msi_data(); route_result for vectors from
 * route_fail_from on. */
int sim_pci_msix_route(void *ctx, const struct lvio_device *dev, uint16_t vector,
                       uint64_t *addr, uint32_t *data);
uint32_t sim_pci_msi_data(const struct sim_pci *p, uint16_t vector);

/* The device's configuration changed: the config vector's message with
 * MSI-X on, else the ISR's configuration bit. */
void sim_pci_config_change(struct sim_pci *p);

/* Messages sent for `vector` so far. */
unsigned sim_pci_msgs_for(const struct sim_pci *p, uint16_t vector);

/* Forget the common cfg access log. */
void sim_pci_clear_log(struct sim_pci *p);

/* Index in log[] of the first (from `from`) access to common offset `off`
 * that is a write (`write`) or read; -1 when there is none. */
int sim_pci_find_access(const struct sim_pci *p, unsigned from, bool write, uint16_t off);

#endif
