/*
 * The transport's own state of a device: the last member of struct
 * lvio_device, `transport_state`, which callers provide as storage and never
 * touch. Set by a transport's probe (lvio_mmio_probe, lvio_pci_probe) and
 * used only by src/transport/ (and by white-box tests). Its layout is not
 * part of the API and changes between versions.
 */
#ifndef LVIO_TRANSPORT_STATE_H
#define LVIO_TRANSPORT_STATE_H

#include <stdbool.h>
#include <stdint.h>

/* A mapped register range of a PCI BAR (private to the PCI transport). */
struct lvio_pci_region {
    volatile uint8_t *base; /* NULL: absent. In port space (port): the
                               first port's number as an address, never
                               dereferenced (the HAL's port_read/write) */
    uint32_t len;
    uint8_t bar;            /* where it is, for lvio_dump */
    uint32_t offset;
    bool port;              /* an I/O BAR reached through the HAL's ports */
};

/* The MSI-X entries the library uses at most (the first ones of the
 * table); queues beyond share them. */
#define LVIO_PCI_MSIX_VECTORS_MAX 64u

/*
 * MSI-X state of a PCI device (private to the PCI transport). The probe
 * finds the capability and maps the table; lvio_device_begin programs the
 * configuration vector and queue setup each queue's.
 */
struct lvio_pci_msix {
    uint8_t cap;                 /* capability offset; 0: none */
    uint16_t table_size;         /* entries, as Message Control says */
    struct lvio_pci_region table; /* mapped; base NULL: unusable */
    uint16_t config_vector;      /* LVIO_VIRTIO_MSI_NO_VECTOR: none */
    uint64_t queue_vectors;      /* bit v: a queue set up since
                                    lvio_device_begin uses vector v */
    char why[96];                /* why MSI-X is not used: no (usable)
                                    table, refused, or given up; "" while
                                    in use or before lvio_device_begin */
};

/* Shared memory regions of a PCI device the transport keeps (the first
 * ones its capabilities name). */
#define LVIO_PCI_SHM_MAX 4u

/* One shared memory region (private to the PCI transport). */
struct lvio_pci_shm {
    uint64_t addr;          /* CPU physical address: the BAR's + offset */
    uint64_t len;           /* bytes, within the BAR */
    uint8_t id;             /* its shmid */
};

union lvio_transport_state {
    struct {
        volatile uint8_t *regs; /* mapped by the HAL */
        uint64_t size;
    } mmio;
    struct {
        volatile uint8_t *cfg;  /* the function's configuration space */
        uint32_t cfg_size;
        uint16_t segment;
        uint8_t bus, device, function;
        /* modern: the four structures the capabilities point at */
        struct lvio_pci_region common, notify, isr, devcfg;
        uint32_t notify_mult;   /* notify_off_multiplier */
        /* legacy: the I/O BAR 0 register block, and where device
         * configuration starts in it (0x18 while MSI-X is enabled,
         * else 0x14: kept in step with the enable bit) */
        struct lvio_pci_region legacy;
        uint32_t legacy_cfg;
        struct lvio_pci_msix msix;
        /* VIRTIO_PCI_CAP_SHARED_MEMORY_CFG regions that lie inside an
         * assigned memory BAR (lvio_device_shm) */
        struct lvio_pci_shm shm[LVIO_PCI_SHM_MAX];
        uint8_t nshm;
    } pci;
};

#endif
