/*
 * A simulated virtio-gpu (device id 16) on top of the simulated virtio-mmio
 * device of sim.h: the 2D command set as the specification (and QEMU)
 * defines it. The control queue's handler parses every request chain
 * (header + body, and for RESOURCE_ATTACH_BACKING its mem entries as a
 * second readable buffer), records each command's bytes, keeps resources
 * (with a host-side copy of their pixels, filled by TRANSFER_TO_HOST_2D
 * through the backing entries and the test HAL's share translation),
 * scanouts and the cursor, and answers with the right response or the
 * error a real device gives. Fault knobs make it misbehave on purpose.
 *
 * Usage: struct sim_gpu G; sim_gpu_init(&G, 2, 1); sim_probe(&G.sim, &dev);
 * ... lvio_gpu_init ...; sim_gpu_fini(&G) at the end (frees host copies).
 */
#ifndef SIM_GPU_H
#define SIM_GPU_H

#include "sim.h"

#include "lvio/spec/virtio_gpu.h"

#define SIM_GPU_MAX_LOG 256
#define SIM_GPU_MAX_RES 64
#define SIM_GPU_REQ_MAX 128   /* bytes of a request kept per command */
#define SIM_GPU_EXTRA_MAX 1024 /* bytes of a second readable buffer kept */
#define SIM_GPU_MAX_CAPSETS 4
#define SIM_GPU_CAPSET_MAX 4072 /* bytes of a capset's data */
#define SIM_GPU_MAX_CTX 16
#define SIM_GPU_MAX_SUBMITS 64  /* submits whose bytes are kept */
#define SIM_GPU_MAX_PENDING 32  /* fenced answers not given yet */

/* One command as the device received it. */
struct sim_gpu_cmd {
    uint16_t queue;
    uint32_t type;            /* from the header */
    uint32_t notifies;        /* sim.notifies when the device took it */
    uint64_t req_addr;        /* device address of the request */
    uint32_t req_len;         /* bytes of the first readable buffer */
    uint8_t req[SIM_GPU_REQ_MAX];
    unsigned nreadable;       /* readable buffers in the chain */
    uint32_t extra_len;       /* bytes of the second readable buffer */
    uint8_t extra[SIM_GPU_EXTRA_MAX];
    uint32_t writable;        /* bytes of writable buffers offered */
    uint32_t resp_type;       /* what the device answered (0: nothing) */
};

struct sim_gpu_resource {
    uint32_t id;              /* 0: slot unused */
    uint32_t format, width, height;
    uint8_t *host;            /* width * height * 4 bytes (3D: times depth
                                 and array_size), the device's copy; a 3D
                                 resource's starts as a known pattern
                                 (sim_gpu_host_byte) */
    size_t host_size;
    struct lvio_virtio_gpu_mem_entry *entries; /* backing, NULL: none */
    uint32_t nr_entries;
    /* RESOURCE_CREATE_3D */
    bool is3d;
    uint32_t target, bind, depth, array_size, last_level, nr_samples, flags;
    /* RESOURCE_CREATE_BLOB */
    bool blob;
    uint32_t blob_mem, blob_flags, blob_ctx;
    uint64_t blob_id, blob_size;
    bool mapped;
    uint64_t map_offset;
};

/* A capability set the device offers. */
struct sim_gpu_capset {
    uint32_t id, max_version, max_size;
    int64_t answer_len;       /* >= 0: GET_CAPSET answers this many data
                                 bytes (a device that lies); else max_size */
    uint32_t answer_type;     /* != 0: GET_CAPSET answers this type */
    uint8_t data[SIM_GPU_CAPSET_MAX];
};

/* A rendering context. */
struct sim_gpu_ctx {
    uint32_t id;              /* 0: slot unused */
    uint32_t context_init;
    uint32_t nlen;
    char name[64];
    uint32_t attached[SIM_GPU_MAX_RES];
    unsigned nattached;
};

/* A SUBMIT_3D as the device saw it: the command bytes joined from every
 * readable buffer after the request. */
struct sim_gpu_submit {
    uint32_t ctx_id;
    uint32_t flags;
    uint64_t fence;
    uint32_t size;            /* as the request says */
    uint8_t *bytes;           /* size bytes (malloc'd), NULL if unreadable */
    unsigned nbufs;           /* readable buffers the commands came in */
};

/* When fenced commands are answered. */
enum sim_gpu_fence_mode {
    SIM_GPU_FENCE_NOW,        /* at once (a device whose work is done) */
    SIM_GPU_FENCE_LATER,      /* kept until sim_gpu_signal / sim_gpu_signal_one,
                                 or fence_auto steps */
};

/* A fenced command the device has not answered yet. */
struct sim_gpu_pending {
    uint16_t head;
    uint64_t waddr;           /* where its answer goes */
    uint32_t wlen;
    uint64_t fence;
    uint8_t resp[24];         /* the answer, written when it is given */
    uint32_t resp_len;        /* the length reported then */
};

struct sim_gpu_scanout {
    bool enabled;
    uint32_t x, y, width, height;   /* as display info reports it */
    uint32_t edid_width, edid_height; /* EDID preferred mode; 0: as display info */
    bool no_edid;             /* GET_EDID for it answers ERR_UNSPEC */
    uint32_t resource_id;     /* what SET_SCANOUT made it show; 0: off */
    struct lvio_virtio_gpu_rect rect; /* the rect of the last SET_SCANOUT */
    uint32_t flushes;         /* RESOURCE_FLUSHes that touched it */
};

enum sim_gpu_fault_kind {
    SIM_GPU_FAULT_NONE,
    SIM_GPU_FAULT_ERROR,      /* answer the error response `value` (not executed) */
    SIM_GPU_FAULT_SHORT,      /* execute, write the response, report used len `value` */
    SIM_GPU_FAULT_WRONG_TYPE, /* execute, answer with response type `value` */
    SIM_GPU_FAULT_SILENT,     /* execute, but hold the chain until sim_gpu_release() */
};

struct sim_gpu {
    struct sim sim;           /* first: the handlers get &sim */

    /* Device state. */
    uint32_t num_scanouts;    /* as in the configuration */
    struct sim_gpu_scanout scanouts[LVIO_VIRTIO_GPU_MAX_SCANOUTS];
    struct sim_gpu_resource res[SIM_GPU_MAX_RES];
    uint32_t events_read;     /* mirrored into config */
    uint32_t events_clear_writes; /* writes to events_clear */
    uint32_t events_cleared;  /* bits written to events_clear (or-ed) */
    struct {
        uint32_t resource_id, hot_x, hot_y, scanout, x, y;
        uint32_t updates, moves;
        uint8_t image[64 * 64 * 4]; /* the resource's pixels at UPDATE_CURSOR */
    } cursor;

    /* Every command, in the order the device took them. */
    struct sim_gpu_cmd log[SIM_GPU_MAX_LOG];
    unsigned nlog;            /* may exceed SIM_GPU_MAX_LOG: only the first are kept */

    /* Fault knobs: commands of type `fault_cmd` (0: none) get `fault_kind`
     * while fault_times != 0 (counted down; < 0: forever). */
    uint32_t fault_cmd;
    enum sim_gpu_fault_kind fault_kind;
    uint32_t fault_value;
    int fault_times;
    bool edid_bad_checksum;   /* EDIDs fail their checksum */
    bool edid_no_timing;      /* the first descriptor is a display descriptor */
    int64_t edid_size;        /* >= 0: report this size instead of 128 */
    /* Called with the response just written to guest memory (`out`, CPU
     * address) for a control command of `type`. */
    void (*responded)(struct sim_gpu *g, uint32_t type, uint8_t *out, uint32_t len);
    bool scribble_backing;    /* after ATTACH_BACKING, overwrite the entry list
                                 and all DMA memory of its allocation with
                                 0xa5 bytes */

    /* 3D (sim_gpu3d.c). Offered with sim_gpu_offer_3d. */
    uint32_t num_capsets;     /* as in the configuration */
    struct sim_gpu_capset capsets[SIM_GPU_MAX_CAPSETS];
    struct sim_gpu_ctx ctx[SIM_GPU_MAX_CTX];
    struct sim_gpu_submit submits[SIM_GPU_MAX_SUBMITS];
    unsigned nsubmits;        /* may exceed SIM_GPU_MAX_SUBMITS: the first are kept */
    enum sim_gpu_fence_mode fence_mode;
    int fence_auto;           /* > 0: LATER answers all it holds after this
                                 many sim_steps */
    int fence_countdown;
    struct sim_gpu_pending pending[SIM_GPU_MAX_PENDING];
    unsigned npending;
    uint64_t last_signalled;  /* highest fence answered so far */
    int fence_echo_fault;     /* 1: answers echo another fence id;
                                 2: answers lack the FENCE flag */
    uint32_t map_info;        /* MAP_BLOB's answer (default CACHED) */
    uint8_t uuid_seed;        /* RESOURCE_ASSIGN_UUID: uuid[i] = seed + id + i */
};

/* Fresh simulated GPU: MMIO `version`, `num_scanouts` scanouts, scanout 0
 * enabled at 1024x768 with an EDID preferring 1280x800, the others
 * disabled; F_EDID offered. */
void sim_gpu_init(struct sim_gpu *g, uint32_t version, uint32_t num_scanouts);

/* The end of a test: the model saw nothing wrong, lvio_gpu_teardown(gpu)
 * resets the device and gives every page and share back; then
 * sim_gpu_fini. */
struct lvio_gpu;
void sim_gpu_down(struct sim_gpu *g, struct lvio_gpu *gpu);

/* Free the device's resources (host copies, backing lists). */
void sim_gpu_fini(struct sim_gpu *g);

/* Set scanout `i`'s display-info mode. */
void sim_gpu_set_mode(struct sim_gpu *g, unsigned i, bool enabled, uint32_t width,
                      uint32_t height);

/* Offer VIRTIO_GPU_F_EDID or not (before lvio_gpu_init). */
void sim_gpu_offer_edid(struct sim_gpu *g, bool offer);

/* Raise VIRTIO_GPU_EVENT_DISPLAY in events_read. */
void sim_gpu_raise_display_event(struct sim_gpu *g);

/* The `nth` (0-based) logged command of `type`, or NULL. */
const struct sim_gpu_cmd *sim_gpu_find(const struct sim_gpu *g, uint32_t type, unsigned nth);

/* Logged commands of `type` (0: all). */
unsigned sim_gpu_count(const struct sim_gpu *g, uint32_t type);

/* The live resource `id`, or NULL. */
struct sim_gpu_resource *sim_gpu_resource(struct sim_gpu *g, uint32_t id);

/* Live resources. */
unsigned sim_gpu_live_resources(const struct sim_gpu *g);

/* The device finally completes the chains it held (SIM_GPU_FAULT_SILENT),
 * last taken first; it first reads every buffer of each chain again, as a
 * late device would, so memory the driver freed or unshared while the chain
 * was still in flight is noted in sim.error. */
void sim_gpu_release(struct sim_gpu *g);

/* Forget the command log. */
void sim_gpu_clear_log(struct sim_gpu *g);

/* Offer the 3D features `bits` (1 << LVIO_VIRTIO_GPU_F_VIRGL, ...), with
 * the capsets VIRGL (v1, 308 bytes) and VIRGL2 (v2, 1024 bytes) as QEMU
 * does when VIRGL is among them, and with F_RESOURCE_BLOB a 64 MiB
 * host-visible region (shmid 1) at 0x8000000000. */
void sim_gpu_offer_3d(struct sim_gpu *g, uint64_t bits);

/* Set capset `i` (and num_capsets to at least i + 1); its data is a
 * pattern of its id. */
void sim_gpu_set_capset(struct sim_gpu *g, unsigned i, uint32_t id, uint32_t max_version,
                        uint32_t max_size);

/* The context `id`, or NULL. */
struct sim_gpu_ctx *sim_gpu_context(struct sim_gpu *g, uint32_t id);

/* Live contexts. */
unsigned sim_gpu_live_contexts(const struct sim_gpu *g);

/* The byte a 3D resource's host copy starts with at `off`. */
uint8_t sim_gpu_host_byte(uint32_t resource_id, size_t off);

/* LATER mode: answer every pending fenced command with a fence up to
 * `fence`, in fence order (QEMU's virgl_write_fence); sim_gpu_signal_one
 * answers exactly the one with `fence` (out of order). Returns how many. */
unsigned sim_gpu_signal(struct sim_gpu *g, uint64_t fence);
unsigned sim_gpu_signal_one(struct sim_gpu *g, uint64_t fence);

/* The `nth` SUBMIT_3D the device saw, or NULL. */
const struct sim_gpu_submit *sim_gpu_submit_log(const struct sim_gpu *g, unsigned nth);

/* Build the 128-byte EDID the device gives for a preferred mode. */
void sim_gpu_make_edid(uint8_t edid[128], uint32_t width, uint32_t height);

#endif
