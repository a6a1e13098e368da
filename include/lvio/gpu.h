/*
 * virtio-gpu 2D driver (VIRTIO 1.2, 5.7): scanouts and their modes (display
 * info and EDID), framebuffers backed by guest memory through a
 * scatter-gather list, presenting damage rectangles, page flipping, the
 * hardware cursor, and display-change events.
 *
 * Typical use:
 *
 *     struct lvio_gpu gpu;            // caller's storage, no heap
 *     struct lvio_gpu_fb fb;
 *     lvio_gpu_init(&gpu, &dev);      // negotiates, queues, reads the modes
 *     uint32_t w, h;
 *     lvio_gpu_preferred_mode(&gpu, 0, &w, &h);
 *     lvio_gpu_fb_create(&gpu, &fb, w, h, LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
 *                        pixels, w * 4 * h,    // pixels: any memory the HAL can share()
 *                        NULL, 0);             // or private room for scattered pages
 *     ...draw into pixels...
 *     lvio_gpu_show(&gpu, 0, &fb);    // the scanout displays fb
 *     ...draw more...
 *     lvio_gpu_present(&fb, &damage); // transfer + flush of one rectangle
 *
 * The framebuffer's memory belongs to the caller. It need not be physically
 * contiguous: the driver shares it with the device page by page through the
 * HAL's share() and hands the device a list of the contiguous runs. share()
 * must map the memory in place (no bounce buffer): the device reads the
 * pixels when told to transfer them.
 *
 * Every command is checked: a response of the wrong type or size is
 * LVIO_E_DEVICE; an error response is LVIO_E_REFUSED and its spec name
 * (ERR_OUT_OF_MEMORY, ERR_INVALID_SCANOUT_ID, ...) is kept in
 * gpu->last_resp, given by lvio_gpu_errname(). Every wait is bounded by
 * gpu->timeout_ns. Nothing is global: resource ids are allocated per GPU,
 * so any number of framebuffers and GPUs coexist.
 */
#ifndef LVIO_GPU_H
#define LVIO_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "spec/virtio_gpu.h"
#include "virtio.h"
#include "virtqueue.h"

/* Control commands (a query too) that may be in flight at once. */
#define LVIO_GPU_CMD_SLOTS 16
/* Cursor commands that may be in flight at once. */
#define LVIO_GPU_CURSOR_SLOTS 8
/* Side of the cursor image, in pixels (the device's fixed size). */
#define LVIO_GPU_CURSOR_SIZE 64
/* Default bound on one command (or one batch) in nanoseconds. */
#ifndef LVIO_GPU_TIMEOUT_NS
#define LVIO_GPU_TIMEOUT_NS 2000000000ull
#endif
/* Most scatter-gather entries one framebuffer may need (QEMU's limit). */
#define LVIO_GPU_MAX_ENTRIES 16384
/* Runs a framebuffer keeps in itself, enough for memory that is contiguous
 * for the device in a few pieces (see lvio_gpu_fb_create's `runs`). */
#define LVIO_GPU_FB_INLINE_RUNS 8
/* Runs that `size` bytes of backing may take at most: one per page it
 * touches (memory that is not contiguous for the device at all). */
#define LVIO_GPU_FB_RUNS(size) (((size) + 2 * (size_t)LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE)

/* What lvio_gpu_init_with may negotiate (its `want`): each feature is
 * accepted only when asked for here and offered by the device; what was
 * negotiated is in gpu->has_virgl and the others. The 3D calls are in
 * lvio/gpu3d.h (built with LVIO_WITH_GPU3D; without it they are never
 * negotiated). */
#define LVIO_GPU_WANT_VIRGL         (1u << 0)  /* VIRTIO_GPU_F_VIRGL: contexts, 3D */
#define LVIO_GPU_WANT_CONTEXT_INIT  (1u << 1)  /* F_CONTEXT_INIT: a capset per context */
#define LVIO_GPU_WANT_RESOURCE_UUID (1u << 2)  /* F_RESOURCE_UUID: RESOURCE_ASSIGN_UUID */
#define LVIO_GPU_WANT_RESOURCE_BLOB (1u << 3)  /* F_RESOURCE_BLOB: blob resources */
#define LVIO_GPU_WANT_ALL 0xfu

/* Capability sets the driver keeps the GET_CAPSET_INFO of (the first
 * LVIO_GPU_MAX_CAPSETS of num_capsets; QEMU offers two). */
#define LVIO_GPU_MAX_CAPSETS 16

/* One capability set as GET_CAPSET_INFO reported it. */
struct lvio_gpu_capset {
    uint32_t id;                /* LVIO_VIRTIO_GPU_CAPSET_* */
    uint32_t max_version;
    uint32_t max_size;          /* bytes of GET_CAPSET's answer at most */
};

/* A rectangle in pixels. */
struct lvio_gpu_rect {
    uint32_t x, y, width, height;
};

/* One scanout (display output) as the device reports it. */
struct lvio_gpu_scanout {
    bool enabled;               /* the host shows this output */
    struct lvio_gpu_rect rect;  /* its position and size, from display info */
    uint32_t flags;
    /* Preferred mode from the EDID (its first detailed timing); 0 x 0 when
     * the device has no EDID for this scanout or did not offer F_EDID. */
    uint32_t edid_width, edid_height;
    uint32_t resource_id;       /* what we asked it to show; 0: nothing */
};

/* One contiguous run of a framebuffer's backing at a device address: the
 * driver's own record of what it shared, in memory the device is never
 * given (the device gets a copy of the list in DMA memory, and whatever it
 * does to that copy, or to any DMA memory, cannot change what the driver
 * later unshares). */
struct lvio_gpu_run {
    uint64_t addr;
    uint32_t len;
    uint32_t reserved;
};

/* A 2D resource whose backing is caller memory. Set by lvio_gpu_fb_create. */
struct lvio_gpu;
struct lvio_gpu_fb {
    struct lvio_gpu *gpu;
    uint32_t resource_id;
    uint32_t width, height;
    uint32_t format;            /* LVIO_VIRTIO_GPU_FORMAT_* */
    uint32_t stride;            /* bytes per row: width * 4 */
    uint8_t *pixels;            /* the caller's memory */
    size_t size;                /* bytes shared with the device */
    uint32_t dir;               /* enum lvio_dma_dir they are shared for */
    /* The scatter-gather list as the device gets it: DMA pages the device
     * may rewrite; the driver writes them and never reads them back. */
    struct lvio_virtio_gpu_mem_entry *entries;
    uint64_t entries_addr;
    uint32_t entries_pages;
    uint32_t nr_entries;        /* contiguous runs the backing took */
    /* The driver's own record of the runs: the caller's storage given to
     * lvio_gpu_fb_create, or inline_runs. Never DMA memory. */
    struct lvio_gpu_run *runs;
    uint32_t max_runs;
    struct lvio_gpu_run inline_runs[LVIO_GPU_FB_INLINE_RUNS];
    uint32_t epoch;             /* the GPU's epoch when it was created */
};

/* The driver's own record of a command slot, next to the request
 * engine's (private). */
struct lvio_gpu_ctx;
struct lvio_gpu_slot {
    uint32_t reads;             /* resource whose backing the command reads
                                   (ATTACH_BACKING, TRANSFER_TO_HOST_2D, the
                                   3D transfers), or 0 */
    /* A lost command that reads a backing (its own ATTACH_BACKING, or a
     * TRANSFER_TO_HOST_2D of a framebuffer destroyed meanwhile): the
     * backing list and the pixel shares, kept until the device gives the
     * chain back (or is reset), since the device may still read them. The
     * engine slot's `held` points here while it keeps them. For a
     * SUBMIT_3D in flight: the shares of the caller's command buffer
     * (pixels, size, runs), from the submit until its answer is taken or
     * the device is reset. */
    struct lvio_gpu_fb held;
    /* A SUBMIT_3D in flight (gpu3d_submit.c): its fence (0 for any other
     * command), its context's id, and the context (NULL once destroyed). */
    uint64_t fence;
    uint32_t ctx_id;
    struct lvio_gpu_ctx *ctx;
};

struct lvio_gpu {
    /* Set by lvio_gpu_init(). */
    struct lvio_device *dev;
    struct lvio_virtqueue ctrlq;
    struct lvio_virtqueue cursorq;
    /* The request engines (lvio/request.h): control commands in slots of
     * 256 bytes (request at +0, response at +128), cursor commands (no
     * response) in slots of 64; and a DMA page for the responses too large
     * for a slot (display info, EDID), one query at a time. */
    struct lvio_reqs cmds;
    struct lvio_req_slot cmd_slots[LVIO_GPU_CMD_SLOTS];
    struct lvio_reqs cursor;
    struct lvio_req_slot cursor_slots[LVIO_GPU_CURSOR_SLOTS];
    uint8_t *query;
    uint64_t query_addr;
    bool has_edid;              /* VIRTIO_GPU_F_EDID negotiated */
    uint32_t num_scanouts;      /* from the configuration, 1..16 */
    uint32_t want;              /* LVIO_GPU_WANT_* asked for (kept by reset) */
    bool has_virgl;             /* VIRTIO_GPU_F_VIRGL negotiated */
    bool has_context_init;      /* VIRTIO_GPU_F_CONTEXT_INIT negotiated */
    bool has_resource_uuid;     /* VIRTIO_GPU_F_RESOURCE_UUID negotiated */
    bool has_resource_blob;     /* VIRTIO_GPU_F_RESOURCE_BLOB negotiated */
    /* With VIRGL: GET_CAPSET_INFO of every capset index the configuration
     * names (num_capsets of them, at most LVIO_GPU_MAX_CAPSETS), in index
     * order; 0 without VIRGL. */
    uint32_t num_capsets;
    struct lvio_gpu_capset capsets[LVIO_GPU_MAX_CAPSETS];
    /* With RESOURCE_BLOB: the host-visible shared memory region (shmid 1)
     * where mapped blobs appear, as the transport describes it (a device
     * address, and bytes); 0 and 0 when the device has none. */
    uint64_t shm_addr;
    uint64_t shm_len;

    /* Set by lvio_gpu_query() (called by init and on display events). */
    struct lvio_gpu_scanout scanouts[LVIO_VIRTIO_GPU_MAX_SCANOUTS];

    /* May be changed by the caller. */
    uint64_t timeout_ns;        /* bound on each command or batch */

    /* Driver state. */
    uint32_t next_resource_id;  /* resource ids are per GPU, never 0 */
    struct lvio_gpu_slot slots[LVIO_GPU_CMD_SLOTS];
    uint32_t last_cmd;          /* command type of the last failure */
    uint32_t last_resp;         /* response type of the last failure */
    uint32_t epoch;             /* bumped by lvio_gpu_reset: older
                                   framebuffers no longer exist on the device */
    uint32_t next_ctx_id;       /* context ids are per GPU, never 0 */
    uint64_t last_fence;        /* the last fence id given to a submit: one
                                   counter per GPU, as the device's fences
                                   are one timeline (QEMU answers fenced
                                   commands in fence-id order) */
};

/*
 * Bring up the GPU `dev` (probed; dev->device_id LVIO_VIRTIO_ID_GPU):
 * negotiate (VIRTIO_GPU_F_EDID when offered), set up the control and cursor
 * queues, DRIVER_OK, then read the display info and EDIDs
 * (lvio_gpu_query). Returns 0 or a negative lvio_error; on error the device
 * is left FAILED and everything allocated is freed.
 */
int lvio_gpu_init(struct lvio_gpu *gpu, struct lvio_device *dev);

/*
 * lvio_gpu_init, negotiating also what `want` (LVIO_GPU_WANT_* bits) asks
 * for, of what the device offers: VIRGL, CONTEXT_INIT, RESOURCE_UUID and
 * RESOURCE_BLOB are each accepted only when asked for and offered, and
 * gpu->has_virgl etc. say what was (contexts need VIRGL; CONTEXT_INIT
 * only adds a capset to them). With VIRGL the driver then reads
 * num_capsets from the configuration and GET_CAPSET_INFO for every index
 * into gpu->capsets; with RESOURCE_BLOB it looks up the host-visible
 * shared memory region (gpu->shm_addr, shm_len). `want` 0 is exactly
 * lvio_gpu_init: a 2D GPU, whatever the device offers. Bits the library
 * does not know, or any bit when it was built without LVIO_WITH_GPU3D, are
 * LVIO_E_INVAL. Returns what lvio_gpu_init returns; also LVIO_E_DEVICE or
 * LVIO_E_REFUSED when a capset's info is malformed or refused (its index
 * named). A num_capsets above LVIO_GPU_MAX_CAPSETS, or of 0, is a
 * warning in the log, not an error; a host-visible region the transport
 * cannot describe leaves gpu->shm_len 0 (blobs then cannot be mapped).
 */
int lvio_gpu_init_with(struct lvio_gpu *gpu, struct lvio_device *dev, uint32_t want);

/* Reset the device and free the driver's DMA pages. Destroy framebuffers
 * before (their memory is the caller's; lvio_gpu_fb_destroy after teardown
 * only releases the driver's share of it). When the reset never completes
 * (LVIO_E_DEAD) nothing is freed or unshared: see lvio_device_reset. */
void lvio_gpu_teardown(struct lvio_gpu *gpu);

/*
 * Recovery after LVIO_E_TIMEOUT, LVIO_E_NEEDS_RESET or LVIO_E_BROKEN: reset
 * the device (it forgets every resource; memory held for lost commands is
 * returned) and bring it up again on the same device, modes re-read.
 * Framebuffers created before are stale: present/show/cursor refuse them
 * with LVIO_E_INVAL, lvio_gpu_fb_destroy only releases their memory; create
 * new ones. The same for 3D contexts, resources and blobs (lvio/gpu3d.h):
 * submits still in flight end with the reset, their command buffers
 * unshared. The same `want` is negotiated again. Returns what
 * lvio_gpu_init_with returns; LVIO_E_INVAL if the GPU was never
 * initialised.
 */
int lvio_gpu_reset(struct lvio_gpu *gpu);

/*
 * Read GET_DISPLAY_INFO for all scanouts and, with F_EDID, GET_EDID for each
 * scanout, into gpu->scanouts. Returns 0 or a negative lvio_error.
 */
int lvio_gpu_query(struct lvio_gpu *gpu);

/*
 * The mode to use on `scanout`: the EDID's preferred mode when there is
 * one, else the size from display info. Returns 0, LVIO_E_INVAL (no such
 * scanout, or the GPU is not initialised) or LVIO_E_NODEV (scanout not
 * enabled, or size 0).
 */
int lvio_gpu_preferred_mode(const struct lvio_gpu *gpu, unsigned scanout,
                            uint32_t *width, uint32_t *height);

/*
 * After an interrupt (or now and then, polling): take the device's
 * completions off both queues (commands that timed out and came back late
 * give back what they held; answered SUBMIT_3Ds signal their fences and
 * give their command buffers back, lvio/gpu3d.h) and, when `isr` has LVIO_VIRTIO_ISR_CONFIG (as
 * lvio_device_isr() returned it, or set by the caller for a configuration
 * vector), handle display events as lvio_gpu_poll_events does. Returns 1
 * when the modes were re-read, 0, or a negative lvio_error. Not for an
 * interrupt handler: call it where the other calls on this GPU are made.
 */
int lvio_gpu_poll(struct lvio_gpu *gpu, uint32_t isr);

/*
 * Display-change events: if the device raised VIRTIO_GPU_EVENT_DISPLAY,
 * clear it and re-query the modes. Returns 1 when the modes were re-read
 * (the caller should compare and resize), 0 when nothing happened, or a
 * negative lvio_error. Cheap enough to poll.
 */
int lvio_gpu_poll_events(struct lvio_gpu *gpu);

/*
 * Create a `width` x `height` resource in `format` (any 32-bit
 * LVIO_VIRTIO_GPU_FORMAT_*) and attach `pixels` (at least width * 4 *
 * height bytes, 4-byte aligned, rows of width * 4 bytes) as its backing.
 *
 * `runs` (room for `max_runs` entries) is driver-private storage for the
 * record of what was shared: each contiguous run of the backing at its
 * device address, used to unshare exactly that later. It must be memory
 * the device cannot reach (ordinary kernel memory, not DMA pages) and stay
 * the driver's as long as `pixels` does (until lvio_gpu_memory_busy() of
 * the pixels is false after lvio_gpu_fb_destroy). NULL uses the
 * framebuffer's own LVIO_GPU_FB_INLINE_RUNS entries, enough for memory
 * that is contiguous for the device in a few pieces; memory shared page by
 * page at scattered device addresses needs LVIO_GPU_FB_RUNS(size) entries
 * (LVIO_E_INVAL, saying how many, when there are too few).
 *
 * Returns 0, LVIO_E_INVAL, LVIO_E_UNSUPPORTED (no share() in the HAL),
 * LVIO_E_NOMEM, LVIO_E_REFUSED (e.g. ERR_OUT_OF_MEMORY), LVIO_E_TIMEOUT,
 * LVIO_E_DEVICE, LVIO_E_NEEDS_RESET, LVIO_E_BROKEN. On error nothing is
 * left behind, with one exception: when RESOURCE_ATTACH_BACKING was sent
 * and not answered (LVIO_E_TIMEOUT, or the queue broke or the device asked
 * for a reset meanwhile) the device may still read the backing, so the
 * driver keeps the backing list and the shares of `pixels` until the
 * device answers late (noticed by any later command) or lvio_gpu_reset or
 * lvio_gpu_teardown resets it; `pixels` must stay allocated until then.
 * The resource id is never reused.
 */
int lvio_gpu_fb_create(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb,
                       uint32_t width, uint32_t height, uint32_t format,
                       void *pixels, size_t size, struct lvio_gpu_run *runs,
                       uint32_t max_runs);

/* Stop showing it anywhere, detach its backing, unref it, unshare the
 * memory. Returns 0 or the first error (everything is released anyway,
 * with one exception: while a TRANSFER_TO_HOST_2D of it that timed out is
 * still with the device, the device may read the pixels, so they stay
 * shared until it comes back or lvio_gpu_reset / lvio_gpu_teardown; the
 * caller keeps `pixels` allocated until then). */
int lvio_gpu_fb_destroy(struct lvio_gpu_fb *fb);

/*
 * True while the driver keeps any of [mem, mem + len) shared because a
 * command that timed out may still read it (see lvio_gpu_fb_create and
 * lvio_gpu_fb_destroy), or because a SUBMIT_3D of it has not been
 * answered yet (the command buffer of lvio_gpu_ctx_submit), or keeps using
 * it as the `runs` record of such a framebuffer: do not free or reuse that
 * memory yet. False once
 * the device has answered, or after lvio_gpu_reset / lvio_gpu_teardown.
 * Always true once the device is dead (a reset never completed,
 * LVIO_E_DEAD): it may still read any memory it was ever given, and the
 * driver keeps all of it shared.
 */
bool lvio_gpu_memory_busy(const struct lvio_gpu *gpu, const void *mem, size_t len);

/*
 * Show `fb` on `scanout`: its whole area is transferred, the scanout set to
 * it and flushed, as one batch with one notify. This is also the page flip:
 * draw into a second framebuffer, then show it. `fb` NULL turns the scanout
 * off. Returns 0 or a negative lvio_error.
 */
int lvio_gpu_show(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *fb);

/*
 * Make the pixels in `damage` (NULL: all of fb) visible: TRANSFER_TO_HOST_2D
 * and RESOURCE_FLUSH for that rectangle, submitted together with one
 * notify. An empty rectangle does nothing; one outside fb is LVIO_E_INVAL.
 */
int lvio_gpu_present(struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *damage);

/*
 * The hardware cursor on `scanout`: `image` is a 64 x 64 framebuffer
 * (B8G8R8A8 or another format with alpha) whose pixels are transferred
 * first; (hot_x, hot_y) is the point in it that sits at (x, y). `image`
 * NULL hides the cursor. Returns 0 or a negative lvio_error.
 */
int lvio_gpu_cursor_set(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *image,
                        uint32_t hot_x, uint32_t hot_y, uint32_t x, uint32_t y);

/* Move the cursor without changing its image. */
int lvio_gpu_cursor_move(struct lvio_gpu *gpu, unsigned scanout, uint32_t x, uint32_t y);

/* The spec name of a response type: "OK_NODATA", "ERR_OUT_OF_MEMORY", ...;
 * "unknown" for others. */
const char *lvio_gpu_resp_name(uint32_t type);

/* The spec name of a command type: "RESOURCE_CREATE_2D", "CTX_CREATE",
 * "SUBMIT_3D", "RESOURCE_MAP_BLOB", ...; "unknown". */
const char *lvio_gpu_cmd_name(uint32_t type);

/*
 * The name to report for `err` returned by this GPU: the device's own
 * error ("ERR_OUT_OF_MEMORY") for LVIO_E_REFUSED, lvio_errname(err)
 * otherwise.
 */
const char *lvio_gpu_errname(const struct lvio_gpu *gpu, int err);

#endif
