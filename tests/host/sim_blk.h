/*
 * A simulated virtio-blk (device id 2) on top of the simulated virtio-mmio
 * device of sim.h: its own configuration (capacity, blk_size, seg_max,
 * size_max, geometry, topology, queues, discard / write zeroes / secure
 * erase limits, cache), a disk of any size (sectors never written read as
 * sim_blk_pattern, written ones are kept), and a request handler that
 * parses every chain as the specification lays it out, checks it against
 * the configuration and what was negotiated (anything a driver must not
 * send is noted in sim.error and answered as a device would), executes it
 * and writes the status. Every chain is logged; fault knobs make it answer
 * wrongly on purpose. Out-of-order completion: sim.hold and
 * sim_release_reversed.
 *
 * Usage: struct sim_blk B; sim_blk_init(&B, 2, 1 << 20); ...set fields,
 * sim_blk_apply(&B)...; sim_probe(&B.sim, &dev); lvio_blk_init(...);
 * sim_blk_fini(&B) at the end.
 */
#ifndef SIM_BLK_H
#define SIM_BLK_H

#include "sim.h"

#include "lvio/spec/virtio_blk.h"

#define SIM_BLK_MAX_LOG 512
#define SIM_BLK_HASH 16384        /* sectors the disk keeps written (power of two) */
#define SIM_BLK_RANGES_KEPT 16    /* ranges of a request kept in the log */

/* One chain as the device took it. */
struct sim_blk_cmd {
    uint16_t queue;
    uint8_t hdr[16];              /* the header's bytes as the driver wrote them */
    uint32_t type;                /* decoded from them (device order) */
    uint32_t reserved;
    uint64_t sector;
    unsigned nbufs;               /* buffers in the chain */
    unsigned ndata;               /* between the header and the status */
    uint32_t data_len;            /* their bytes */
    uint32_t max_data_buf;        /* the longest of them */
    bool data_writable;           /* the device writes them */
    uint32_t status_buf_len;      /* the last buffer's length */
    unsigned nranges;
    struct lvio_virtio_blk_discard_write_zeroes ranges[SIM_BLK_RANGES_KEPT]; /* raw */
    uint8_t status;               /* what it answered (0xff: left unwritten) */
    uint32_t used_len;            /* what it reported */
};

enum sim_blk_fault_kind {
    SIM_BLK_FAULT_NONE,
    SIM_BLK_FAULT_STATUS,         /* answer status `fault_value` (not executed) */
    SIM_BLK_FAULT_NO_STATUS,      /* execute, never write the status byte */
    SIM_BLK_FAULT_SHORT,          /* execute, report used length `fault_value` */
};

struct sim_blk_sector {
    uint64_t sector;              /* + 1; 0: free */
    uint8_t data[LVIO_VIRTIO_BLK_SECTOR_SIZE];
};

struct sim_blk {
    struct sim sim;               /* first: the handler gets &sim */

    /* Configuration (sim_blk_apply writes it into sim.config). */
    uint64_t capacity;
    uint32_t size_max, seg_max, blk_size;
    uint16_t cylinders;
    uint8_t heads, sectors;
    uint8_t physical_block_exp, alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint16_t num_queues;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint32_t max_secure_erase_sectors, max_secure_erase_seg, secure_erase_sector_alignment;
    char serial[LVIO_VIRTIO_BLK_ID_BYTES + 1];
    uint32_t writeback_writes;    /* writes to `writeback` */

    /* The disk: written sectors; the rest reads as sim_blk_pattern. */
    struct sim_blk_sector *disk;  /* SIM_BLK_HASH entries */
    unsigned written;

    /* Every chain, in the order the device took them. */
    struct sim_blk_cmd log[SIM_BLK_MAX_LOG];
    unsigned nlog;                /* may exceed SIM_BLK_MAX_LOG */

    /* Fault knobs: chains of wire type `fault_type` (UINT32_MAX: any) get
     * `fault_kind` while fault_times != 0 (counted down; < 0: forever). */
    uint32_t fault_type;
    enum sim_blk_fault_kind fault_kind;
    uint32_t fault_value;
    int fault_times;
    uint64_t ioerr_sector;        /* a read or write touching it: IOERR
                                     (UINT64_MAX: none) */
    bool hold_type_only;          /* with fault_type: hold only those chains */
};

/* The byte `i` of a sector never written. */
static inline uint8_t sim_blk_pattern(uint64_t sector, unsigned i)
{
    uint64_t x = (sector + 1) * 0x9e3779b97f4a7c15ull;
    return (uint8_t)((x >> (8 * (i % 8))) ^ (i / 8) ^ (x >> 59));
}

/* Fresh simulated disk: MMIO `version`, `capacity` sectors, 512-byte
 * blocks, seg_max 126, one queue, FLUSH, SEG_MAX, BLK_SIZE offered; no
 * serial. */
void sim_blk_init(struct sim_blk *b, uint32_t version, uint64_t capacity);

/* Write the configuration fields into the device's configuration space
 * (after changing them; sim_blk_init calls it). */
void sim_blk_apply(struct sim_blk *b);

/* Offer (or not) a LVIO_VIRTIO_BLK_F_* feature. */
void sim_blk_offer(struct sim_blk *b, unsigned bit, bool on);

/* Read / write `n` bytes of the disk at byte `off` (the device's view). */
void sim_blk_get(struct sim_blk *b, uint64_t off, void *out, size_t n);
void sim_blk_put(struct sim_blk *b, uint64_t off, const void *in, size_t n);

/* The `nth` (0-based) logged chain of wire type `type`, or NULL. */
const struct sim_blk_cmd *sim_blk_find(const struct sim_blk *b, uint32_t type, unsigned nth);

/* Logged chains of wire type `type` (UINT32_MAX: all). */
unsigned sim_blk_count(const struct sim_blk *b, uint32_t type);

void sim_blk_clear_log(struct sim_blk *b);

/* Free the disk. */
void sim_blk_fini(struct sim_blk *b);

#endif
