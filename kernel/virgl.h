/*
 * A small virgl command encoder: the VIRGL_CCMD_* stream a virtio-gpu 3D
 * context executes (the payload of VIRTIO_GPU_CMD_SUBMIT_3D), written as
 * little-endian dwords into a buffer the caller owns. Only what the test
 * kernel draws with: a surface, TGSI shaders, vertex elements, blend,
 * depth-stencil-alpha and rasterizer states, framebuffer and viewport
 * state, a colour clear, an inline buffer write, vertex buffers and a
 * non-indexed draw. Wire facts (command numbers, object types, dword
 * layouts) are virglrenderer's virgl_protocol.h and virgl_hw.h, as its
 * decoder (vrend_decode.c) checks them.
 *
 * Every command is one header dword, cmd | object << 8 | length << 16
 * (length: the dwords after the header), then its payload. An encoder call
 * writes a whole command or nothing: when the command does not fit in what
 * is left of the buffer it returns LVIO_E_NOSPC and the buffer is as it
 * was, so the caller can submit what is there and start again.
 *
 * The dwords are little-endian whatever the CPU (lvio_le32), text and data
 * bytes go as they are.
 *
 * Floats go on the wire as IEEE-754 single bit patterns. The kernels that
 * use this are built without floating point (-mgeneral-regs-only), so
 * virgl_f32() makes those bits from a fraction with integer arithmetic.
 *
 * No global state; no allocation; freestanding (memcpy only).
 */
#ifndef KERNEL_VIRGL_H
#define KERNEL_VIRGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lvio/spec/types.h>

/* enum virgl_context_cmd (the ones used here). */
#define VIRGL_CCMD_NOP 0
#define VIRGL_CCMD_CREATE_OBJECT 1
#define VIRGL_CCMD_BIND_OBJECT 2
#define VIRGL_CCMD_DESTROY_OBJECT 3
#define VIRGL_CCMD_SET_VIEWPORT_STATE 4
#define VIRGL_CCMD_SET_FRAMEBUFFER_STATE 5
#define VIRGL_CCMD_SET_VERTEX_BUFFERS 6
#define VIRGL_CCMD_CLEAR 7
#define VIRGL_CCMD_DRAW_VBO 8
#define VIRGL_CCMD_RESOURCE_INLINE_WRITE 9
#define VIRGL_CCMD_BIND_SHADER 31

/* enum virgl_object_type. */
#define VIRGL_OBJECT_BLEND 1
#define VIRGL_OBJECT_RASTERIZER 2
#define VIRGL_OBJECT_DSA 3
#define VIRGL_OBJECT_SHADER 4
#define VIRGL_OBJECT_VERTEX_ELEMENTS 5
#define VIRGL_OBJECT_SURFACE 8

/* enum virgl_formats (the ones used here). */
#define VIRGL_FORMAT_B8G8R8A8_UNORM 1
#define VIRGL_FORMAT_B8G8R8X8_UNORM 2
#define VIRGL_FORMAT_R32G32_FLOAT 29
#define VIRGL_FORMAT_R32G32B32A32_FLOAT 31
#define VIRGL_FORMAT_R8_UNORM 64
#define VIRGL_FORMAT_R8G8B8A8_UNORM 67

/* Bind flags of RESOURCE_CREATE_3D (VIRGL_BIND_*, Gallium's PIPE_BIND_*). */
#define VIRGL_BIND_RENDER_TARGET (1u << 1)
#define VIRGL_BIND_SAMPLER_VIEW (1u << 3)
#define VIRGL_BIND_VERTEX_BUFFER (1u << 4)
#define VIRGL_BIND_SCANOUT (1u << 18)

/* Gallium's enum pipe_texture_target (RESOURCE_CREATE_3D's target). */
#define VIRGL_TARGET_BUFFER 0
#define VIRGL_TARGET_TEXTURE_2D 2

/* Gallium's shader stages (enum pipe_shader_type). */
#define VIRGL_SHADER_VERTEX 0
#define VIRGL_SHADER_FRAGMENT 1

/* Gallium's primitives (enum pipe_prim_type). */
#define VIRGL_PRIM_TRIANGLES 4

/* CLEAR's buffers (PIPE_CLEAR_*): colour buffer i is 1 << (i + 2). */
#define VIRGL_CLEAR_COLOR0 (1u << 2)

/* Room in dwords each command takes, header included. */
#define VIRGL_CLEAR_DWORDS 9
#define VIRGL_DRAW_VBO_DWORDS 13

struct virgl_enc {
    lvio_le32 *buf; /* the caller's; written only by the encoder calls */
    uint32_t size;  /* its room in dwords */
    uint32_t len;   /* dwords written so far: submit buf[0..len) */
};

/* One vertex element (attribute): where it is in vertex buffer `vb`. */
struct virgl_vertex_element {
    uint32_t src_offset;    /* bytes from the vertex's start */
    uint32_t instance_divisor;
    uint32_t vb;            /* vertex buffer slot */
    uint32_t format;        /* VIRGL_FORMAT_* */
};

/* One vertex buffer slot: a buffer resource, its stride and offset in bytes. */
struct virgl_vertex_buffer {
    uint32_t stride;
    uint32_t offset;
    uint32_t resource;
};

/* Start an empty stream in buf[0..size_dwords). */
void virgl_init(struct virgl_enc *e, lvio_le32 *buf, uint32_t size_dwords);
/* Forget what was written (after a submit): len 0, same buffer. */
void virgl_reset(struct virgl_enc *e);

/*
 * IEEE-754 single-precision bits of num / den (den > 0), rounded to
 * nearest, ties to even; 0 for num 0. Enough range for anything a
 * 32-bit fraction gives (no infinities, no denormals arise from it).
 */
uint32_t virgl_f32(int32_t num, uint32_t den);

/*
 * The encoder calls. Each returns 0 (the command appended), LVIO_E_NOSPC
 * (no room: nothing appended) or LVIO_E_INVAL (an argument the protocol
 * cannot carry: nothing appended). Handles are the context's object
 * handles, chosen by the caller, never 0.
 */

/* CREATE_OBJECT SURFACE: a render target view of level `level`, layers
 * first..last of 3D resource `resource` in `format`. */
int virgl_create_surface(struct virgl_enc *e, uint32_t handle, uint32_t resource,
                         uint32_t format, uint32_t level, uint32_t first_layer,
                         uint32_t last_layer);

/* CREATE_OBJECT SHADER of stage `type` from TGSI text (NUL-terminated,
 * sent with its NUL, zero-padded to a dword), no stream output.
 * `num_tokens` bounds the binary TGSI the host translates it into. */
int virgl_create_shader(struct virgl_enc *e, uint32_t handle, uint32_t type, const char *tgsi,
                        uint32_t num_tokens);

/* BIND_SHADER `handle` (0: none) to stage `type`. */
int virgl_bind_shader(struct virgl_enc *e, uint32_t handle, uint32_t type);

/* CREATE_OBJECT VERTEX_ELEMENTS: n (1..32) elements. */
int virgl_create_vertex_elements(struct virgl_enc *e, uint32_t handle,
                                 const struct virgl_vertex_element *ve, uint32_t n);

/* CREATE_OBJECT BLEND: blending off, logic op off, every colour buffer
 * writing all four channels. */
int virgl_create_blend_opaque(struct virgl_enc *e, uint32_t handle);

/* CREATE_OBJECT DSA: depth, stencil and alpha test all off. */
int virgl_create_dsa_off(struct virgl_enc *e, uint32_t handle);

/* CREATE_OBJECT RASTERIZER: filled polygons, no culling, depth clip on,
 * GL's half-pixel centres, no scissor, point size and line width 1. */
int virgl_create_rasterizer_fill(struct virgl_enc *e, uint32_t handle);

/* BIND_OBJECT `handle` of object type `type` (blend, DSA, rasterizer,
 * vertex elements). */
int virgl_bind_object(struct virgl_enc *e, uint32_t type, uint32_t handle);

/* DESTROY_OBJECT `handle` of object type `type`. */
int virgl_destroy_object(struct virgl_enc *e, uint32_t type, uint32_t handle);

/* SET_FRAMEBUFFER_STATE: colour surfaces cbufs[0..n) (n <= 8), depth
 * surface zsurf (0: none). */
int virgl_set_framebuffer_state(struct virgl_enc *e, const uint32_t *cbufs, uint32_t n,
                                uint32_t zsurf);

/* SET_VIEWPORT_STATE of slot 0: normalised coordinates -1..1 onto
 * [x, x + width) x [y, y + height) pixels, depth 0..1 (scale and
 * translate as Gallium has them: half the size, and the centre). */
int virgl_set_viewport(struct virgl_enc *e, uint32_t x, uint32_t y, uint32_t width,
                       uint32_t height);

/* CLEAR the colour buffers `buffers` (VIRGL_CLEAR_COLOR0 ...) to rgba,
 * each channel given as float bits (virgl_f32); depth 0, stencil 0. */
int virgl_clear(struct virgl_enc *e, uint32_t buffers, const uint32_t rgba[4]);

/* RESOURCE_INLINE_WRITE of `bytes` bytes (a multiple of 4) at byte `x`
 * of buffer resource `resource`: the data travel in the stream. */
int virgl_inline_write_buffer(struct virgl_enc *e, uint32_t resource, uint32_t x,
                              const void *data, uint32_t bytes);

/* SET_VERTEX_BUFFERS: slots 0..n-1 (n <= 32). */
int virgl_set_vertex_buffers(struct virgl_enc *e, const struct virgl_vertex_buffer *vb,
                             uint32_t n);

/* DRAW_VBO, not indexed, one instance: `count` vertices from `start`. */
int virgl_draw_arrays(struct virgl_enc *e, uint32_t mode, uint32_t start, uint32_t count);

#endif
