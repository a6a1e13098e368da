/*
 * Private to the virtio-gpu driver's files: gpu.c (commands and their
 * checks, setup, modes and EDID, display events, the cursor), gpu_fb.c
 * (backings shared page by page and their scatter-gather lists; framebuffers:
 * create and destroy, show and present), and the 3D ones: gpu3d.c
 * (capsets, contexts, 3D resources, transfers), gpu3d_submit.c (submits,
 * fences) and gpu3d_blob.c (blob resources).
 */
#ifndef LVIO_GPU_INTERNAL_H
#define LVIO_GPU_INTERNAL_H

#include "lvio/config.h"
#include "lvio/gpu.h"
#include "lvio/gpu3d.h"
#include "../core/internal.h"

#define LVIO_GPU_MAX_DIM 16384u
/* The largest batch: a framebuffer destroyed while on every scanout (a
 * SET_SCANOUT each, DETACH_BACKING, UNREF). */
#define LVIO_GPU_BATCH_MAX (LVIO_VIRTIO_GPU_MAX_SCANOUTS + 2)

/* A batch of commands, appended by lvio_gpu_cmd (start with n 0): the
 * engine's requests, and what each answer is checked against. */
struct lvio_gpu_batch {
    unsigned n;
    struct lvio_req req[LVIO_GPU_BATCH_MAX];
    struct {
        uint32_t type;
        uint32_t resp_type;     /* the success response expected */
        uint32_t resp_len;      /* its size */
        const void *resp;       /* where the device writes it */
    } cmd[LVIO_GPU_BATCH_MAX];
};

/* A little-endian word the device wrote, read once (it may change it at
 * any time: only the value read is checked and used). */
static inline uint32_t lvio_gpu_dev_le32(const lvio_le32 *p)
{
    return lvio_le32_to_cpu(*(const volatile lvio_le32 *)p);
}

#if LVIO_WITH_GPU3D
/* gpu3d_submit.c: the answered submits (DONE slots with a fence) checked,
 * their fences noted, buffers unshared, slots freed. */
void lvio_gpu3d_reap(struct lvio_gpu *gpu);
/* gpu3d_submit.c: the device was reset (or never got them): every submit
 * in flight ends, its buffer's shares handed to the engine's teardown
 * (a LOST slot's `held`), its context told. */
void lvio_gpu3d_forget(struct lvio_gpu *gpu);
/* gpu3d.c: after DRIVER_OK, with VIRGL: the capsets' info; with
 * RESOURCE_BLOB: the shared memory region. */
int lvio_gpu3d_setup(struct lvio_gpu *gpu);
/* gpu3d.c: send one command (`len` bytes of request, header included,
 * answered OK_NODATA) and wait; `reads`: the resource whose backing it
 * reads or writes, or 0. */
int lvio_gpu3d_send(struct lvio_gpu *gpu, const void *req, uint32_t len, uint32_t reads);
/* Fail with `err`, the message being `what`, ": ", and the message the
 * device has now (the reason a call below gave). */
int lvio_gpu3d_prefix(struct lvio_gpu *gpu, int err, const char *what);
/* The context lives on its GPU as it is now (created, not destroyed, not
 * from before a reset). */
bool lvio_gpu_ctx_usable(const struct lvio_gpu_ctx *ctx);
/* gpu3d_submit.c: wait (gpu->timeout_ns) for the context's submits in
 * flight; 0, LVIO_E_TIMEOUT, LVIO_E_NEEDS_RESET or LVIO_E_BROKEN. */
int lvio_gpu_ctx_drain(struct lvio_gpu_ctx *ctx);
/* gpu3d_submit.c: its submits still in flight forget the context (its
 * storage is the caller's again). */
void lvio_gpu_ctx_orphan(struct lvio_gpu_ctx *ctx);
#endif

/* The engine: free command slots, `n` of them or none (answered submits
 * are taken first, which frees theirs). */
static inline int lvio_gpu_slots_take(struct lvio_gpu *gpu, unsigned *slots, unsigned n)
{
#if LVIO_WITH_GPU3D
    if (lvio_reqs_reap(&gpu->cmds) >= 0)
        lvio_gpu3d_reap(gpu);
#endif
    return lvio_reqs_alloc(&gpu->cmds, slots, n);
}

/* Append to `b` a command whose response is a bare header (OK_NODATA),
 * in free slot `slot`: its request zeroed but for the header, returned
 * for the caller to fill in. */
void *lvio_gpu_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                   uint32_t type, uint32_t req_len);

/* Start a batch of one command whose success response is `resp_type` of
 * `resp_len` bytes (at most the slot's), answered in the slot; NULL with
 * *err when no slot is free. */
void *lvio_gpu_cmd_resp(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, uint32_t type,
                        uint32_t req_len, uint32_t resp_type, uint32_t resp_len, int *err);

/* Start a query (the batch of it alone) whose answer, `resp_len` bytes of
 * `resp_type` at most a page, goes to the query page (b->cmd[0].resp).
 * NULL with *err when no slot or the page is not free. */
void *lvio_gpu_query_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, uint32_t type,
                         uint32_t req_len, uint32_t resp_type, uint32_t resp_len, int *err);

/* Submit a batch with one notify, wait for all of it within
 * gpu->timeout_ns, check every response. Returns 0 or the first error in
 * batch order, its message naming the command. */
int lvio_gpu_run(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b);

/* Append TRANSFER_TO_HOST_2D of `r` (already checked to lie within fb). */
void lvio_gpu_transfer_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                           const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r);

/* Append SET_SCANOUT of fb's whole area (NULL: off) / RESOURCE_FLUSH of `r`. */
void lvio_gpu_set_scanout_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                              unsigned scanout, const struct lvio_gpu_fb *fb);
void lvio_gpu_flush_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                        const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r);

/*
 * Backings (gpu_fb.c), for every kind of resource and for submits: `fb`
 * is the record. lvio_gpu_backing_init zeroes it and sets what is to be
 * shared (`runs` NULL: its inline runs, else max_runs of the caller's).
 * lvio_gpu_backing_share shares it page by page into fb->runs
 * (nr_entries of them), nothing else: on error nothing stays shared.
 * lvio_gpu_backing_release unshares it and gives back its DMA list, if
 * any. lvio_gpu_backing_to_slot hands it to lost command `slot`, which
 * keeps it until the device gives the chain back or is reset.
 */
void lvio_gpu_backing_init(struct lvio_gpu_fb *fb, struct lvio_gpu *gpu, void *mem, size_t size,
                           enum lvio_dma_dir dir, struct lvio_gpu_run *runs, uint32_t max_runs);
int lvio_gpu_backing_share(struct lvio_gpu_fb *fb);
void lvio_gpu_backing_release(struct lvio_gpu_fb *fb);
void lvio_gpu_backing_to_slot(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, unsigned slot);

/*
 * Create a resource with `fb`'s backing (set as for
 * lvio_gpu_backing_share; size 0: none): share it and build its DMA list,
 * then send `create` (a whole request of `len` bytes, its header's type
 * and ctx_id set; its resource_id, the word after the header, is filled
 * in here with a new id) and the list, as ATTACH_BACKING in the same batch
 * when `nr_entries_off` is 0, else following `create` itself, whose
 * nr_entries is the word at that byte. On success fb->resource_id and
 * fb->epoch are set; on error nothing is left behind (fb->gpu NULL) but
 * what a lost command keeps, and a resource created whose backing failed
 * is unreferenced again.
 */
int lvio_gpu_res_create(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, const void *create,
                        uint32_t len, uint32_t nr_entries_off);

/* The device is done with fb's resource (unreferenced, or gone with a
 * reset): its backing goes to a lost command still reading it, else is
 * released; fb->gpu NULL. */
void lvio_gpu_fb_forget(struct lvio_gpu_fb *fb);

/* fb lives on this GPU as it is now (not destroyed, not from before a
 * reset). */
bool lvio_gpu_fb_usable(const struct lvio_gpu_fb *fb);

/* A lost command's slot came back (or the device was reset): the backing
 * it kept (`held`, a struct lvio_gpu_slot's) goes to another lost command
 * reading it, or back to the HAL. */
void lvio_gpu_fb_held_release(struct lvio_gpu *gpu, struct lvio_gpu_fb *held);

#endif
