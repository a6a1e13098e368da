/*
 * Private to the virtio-gpu driver's two files: gpu.c (commands and their
 * checks, setup, modes and EDID, display events, the cursor) and gpu_fb.c
 * (framebuffers: backing shared page by page and its scatter-gather list,
 * create and destroy, show and present).
 */
#ifndef LVIO_GPU_INTERNAL_H
#define LVIO_GPU_INTERNAL_H

#include "lvio/gpu.h"
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

/* The engine: free command slots, `n` of them or none. */
static inline int lvio_gpu_slots_take(struct lvio_gpu *gpu, unsigned *slots, unsigned n)
{
    return lvio_reqs_alloc(&gpu->cmds, slots, n);
}

/* Append to `b` a command whose response is a bare header (OK_NODATA),
 * in free slot `slot`: its request zeroed but for the header, returned
 * for the caller to fill in. */
void *lvio_gpu_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                   uint32_t type, uint32_t req_len);

/* Submit a batch with one notify, wait for all of it within
 * gpu->timeout_ns, check every response. Returns 0 or the first error in
 * batch order, its message naming the command. */
int lvio_gpu_run(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b);

/* Append TRANSFER_TO_HOST_2D of `r` (already checked to lie within fb). */
void lvio_gpu_transfer_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                           const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r);

/* fb lives on this GPU as it is now (not destroyed, not from before a
 * reset). */
bool lvio_gpu_fb_usable(const struct lvio_gpu_fb *fb);

/* A lost command's slot came back (or the device was reset): the backing
 * it kept (`held`, a struct lvio_gpu_slot's) goes to another lost command
 * reading it, or back to the HAL. */
void lvio_gpu_fb_held_release(struct lvio_gpu *gpu, struct lvio_gpu_fb *held);

#endif
