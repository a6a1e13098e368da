/*
 * Private to the simulated GPU's two files: sim_gpu.c (the device, its 2D
 * commands and the chain handler) and sim_gpu3d.c (the 3D and blob
 * commands, capsets, contexts, fences).
 */
#ifndef SIM_GPU_INTERNAL_H
#define SIM_GPU_INTERNAL_H

#include "sim_gpu.h"

#define HDR_SIZE ((uint32_t)sizeof(struct lvio_virtio_gpu_ctrl_hdr))
#define MAX_READABLE 16
/* Bytes of the largest answer the device writes (hdr + a capset). */
#define SIM_GPU_RESP_MAX (HDR_SIZE + SIM_GPU_CAPSET_MAX)

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* The readable part of a chain, as one logical byte string. */
struct chain {
    uint64_t addr[MAX_READABLE];
    uint32_t len[MAX_READABLE];
    unsigned n;
    uint64_t total;
};

/* `len` bytes at byte `off` of the chain's readable part. */
bool sim_gpu_chain_read(struct sim *s, const struct chain *c, uint64_t off, void *out,
                        uint64_t len);

/* The device of a struct sim. */
static inline struct sim_gpu *sim_gpu_of(struct sim *s)
{
    return (struct sim_gpu *)(void *)((char *)s - offsetof(struct sim_gpu, sim));
}

/* A free resource slot, or NULL. */
struct sim_gpu_resource *sim_gpu_res_new(struct sim_gpu *g);

/* Read the list of `nr` mem entries at byte `off` of the chain and check
 * every byte it names is device-visible; the list (malloc'd) or NULL. */
struct lvio_virtio_gpu_mem_entry *sim_gpu_read_entries(struct sim_gpu *g, const struct chain *c,
                                                       uint64_t off, uint32_t nr);

/* Copy `len` bytes at byte `off` of the resource's backing into `out`
 * (write false) or from it into the backing (write true). */
bool sim_gpu_backing_copy(struct sim_gpu *g, const struct sim_gpu_resource *r, uint64_t off,
                          uint8_t *buf, uint64_t len, bool write);

/* sim_gpu3d.c: the request size of a 3D command (0: unknown). */
uint32_t sim_gpu3d_req_len(uint32_t type);
/* sim_gpu3d.c: execute a 3D or blob command; its answer's body into
 * `resp` (SIM_GPU_RESP_MAX bytes), its length into *resp_len when not a
 * bare header. Returns the response type; 0 when not a 3D command. */
uint32_t sim_gpu3d_exec(struct sim_gpu *g, uint32_t type, const uint8_t *req,
                        const struct chain *c, uint8_t *resp, uint32_t *resp_len);
/* sim_gpu3d.c: keep the answer to fenced command `head` (LATER mode) for
 * later; true when kept (the handler then takes the chain). */
bool sim_gpu3d_hold(struct sim_gpu *g, uint16_t head, uint64_t waddr, uint32_t wlen,
                    uint64_t fence, const uint8_t *resp, uint32_t resp_len);
/* sim_gpu3d.c: the device's own time (fence_auto), a sim_step hook. */
void sim_gpu3d_step(struct sim *s);
/* Mirror the device state into its configuration space. */
void sim_gpu_update_config(struct sim_gpu *g);
/* sim_gpu3d.c: a reset forgets contexts and pending answers. */
void sim_gpu3d_reset(struct sim_gpu *g);
/* sim_gpu3d.c: free what the submit log holds. */
void sim_gpu3d_fini(struct sim_gpu *g);

#endif
