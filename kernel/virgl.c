/*
 * The virgl command encoder (virgl.h). Dword layouts as virglrenderer's
 * decoder reads them: each command's payload length is what vrend_decode.c
 * insists on (blend 11, DSA 5, rasterizer 9, surface 5, clear 8, draw 12,
 * framebuffer 2 + n, viewport 1 + 6, vertex elements 1 + 4n, vertex buffers
 * 3n, bind shader 2, inline write 11 + data).
 */
#include "virgl.h"

#include <lvio/error.h>
#include <lvio/spec/types.h>

void *memcpy(void *dst, const void *src, size_t n);

#define VIRGL_MAX_PAYLOAD 0xffffu /* the header's 16-bit length */
#define VIRGL_MAX_COLOR_BUFS 8
#define VIRGL_MAX_ATTRIBS 32

/* Rasterizer S0 bits. */
#define RS_DEPTH_CLIP (1u << 1)
#define RS_HALF_PIXEL_CENTER (1u << 29)
/* Blend S2: colour mask RGBA, blending off. */
#define BLEND_COLORMASK_RGBA (0xfu << 27)

#define F32_ONE 0x3f800000u

void virgl_init(struct virgl_enc *e, lvio_le32 *buf, uint32_t size_dwords)
{
    e->buf = buf;
    e->size = size_dwords;
    e->len = 0;
}

void virgl_reset(struct virgl_enc *e)
{
    e->len = 0;
}

/*
 * Append one command: its header, `n` payload dwords from words[] and then
 * `tail_bytes` bytes from tail, zero-padded to a dword (text, data). Every
 * dword goes out little-endian. All of it or nothing: LVIO_E_NOSPC.
 */
static int emit(struct virgl_enc *e, uint32_t ccmd, uint32_t obj, const uint32_t *words,
                uint32_t n, const void *tail, uint32_t tail_bytes)
{
    uint32_t tail_words = (tail_bytes + 3) / 4;
    uint32_t payload = n + tail_words;

    if (payload > VIRGL_MAX_PAYLOAD)
        return LVIO_E_INVAL;
    if (e->len > e->size || e->size - e->len < payload + 1)
        return LVIO_E_NOSPC;
    lvio_le32 *p = &e->buf[e->len];
    *p++ = lvio_cpu_to_le32(ccmd | obj << 8 | payload << 16);
    for (uint32_t i = 0; i < n; i++)
        *p++ = lvio_cpu_to_le32(words[i]);
    if (tail_words) {
        p[tail_words - 1] = 0;
        memcpy(p, tail, tail_bytes);
    }
    e->len += payload + 1;
    return LVIO_OK;
}

uint32_t virgl_f32(int32_t num, uint32_t den)
{
    uint32_t sign = num < 0 ? 0x80000000u : 0;
    uint64_t n = num < 0 ? (uint64_t)-(int64_t)num : (uint64_t)num, d = den;
    int e = 0;

    if (num == 0 || den == 0)
        return 0;
    /* Scale until 1 <= n / d < 2: the value is then n / d * 2^e. */
    for (; n < d; e--)
        n <<= 1;
    for (; n >= 2 * d; e++)
        d <<= 1;
    /* 24 mantissa bits and a rounding bit by long division. */
    uint32_t m = 0;
    for (int i = 0; i < 25; i++) {
        m <<= 1;
        if (n >= d) {
            n -= d;
            m |= 1;
        }
        n <<= 1;
    }
    uint32_t mant = m >> 1;
    if ((m & 1) && (n != 0 || (mant & 1)))
        mant++;
    if (mant == 1u << 24) {
        mant >>= 1;
        e++;
    }
    return sign | (uint32_t)(e + 127) << 23 | (mant & 0x7fffffu);
}

int virgl_create_surface(struct virgl_enc *e, uint32_t handle, uint32_t resource,
                         uint32_t format, uint32_t level, uint32_t first_layer,
                         uint32_t last_layer)
{
    if (!handle || first_layer > last_layer || last_layer > 0xffff)
        return LVIO_E_INVAL;
    /* A texture's surface: level, then first and last layer packed. */
    const uint32_t w[] = {handle, resource, format, level, first_layer | last_layer << 16};
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_SURFACE, w, 5, NULL, 0);
}

int virgl_create_shader(struct virgl_enc *e, uint32_t handle, uint32_t type, const char *tgsi,
                        uint32_t num_tokens)
{
    uint32_t bytes = 0;

    while (tgsi[bytes] && bytes < 4 * VIRGL_MAX_PAYLOAD)
        bytes++;
    bytes++; /* the NUL travels too: the host looks for it */
    if (!handle || bytes > 4 * (VIRGL_MAX_PAYLOAD - 5))
        return LVIO_E_INVAL;
    /* Handle, stage, the text's whole length (no continuation packets),
     * tokens, no stream-output outputs; then the text. */
    const uint32_t w[] = {handle, type, bytes, num_tokens, 0};
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_SHADER, w, 5, tgsi, bytes);
}

int virgl_bind_shader(struct virgl_enc *e, uint32_t handle, uint32_t type)
{
    const uint32_t w[] = {handle, type};
    return emit(e, VIRGL_CCMD_BIND_SHADER, 0, w, 2, NULL, 0);
}

int virgl_create_vertex_elements(struct virgl_enc *e, uint32_t handle,
                                 const struct virgl_vertex_element *ve, uint32_t n)
{
    uint32_t w[1 + 4 * VIRGL_MAX_ATTRIBS];

    if (!handle || n == 0 || n > VIRGL_MAX_ATTRIBS)
        return LVIO_E_INVAL;
    w[0] = handle;
    for (uint32_t i = 0; i < n; i++) {
        w[1 + 4 * i] = ve[i].src_offset;
        w[2 + 4 * i] = ve[i].instance_divisor;
        w[3 + 4 * i] = ve[i].vb;
        w[4 + 4 * i] = ve[i].format;
    }
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_VERTEX_ELEMENTS, w, 1 + 4 * n, NULL,
                0);
}

int virgl_create_blend_opaque(struct virgl_enc *e, uint32_t handle)
{
    /* S0 (independent blend, logic op, dither, alpha to coverage/one) and
     * S1 (logic op function) 0; per colour buffer: blending off, all of
     * R, G, B and A written. */
    uint32_t w[3 + VIRGL_MAX_COLOR_BUFS] = {handle, 0, 0};

    if (!handle)
        return LVIO_E_INVAL;
    for (unsigned i = 0; i < VIRGL_MAX_COLOR_BUFS; i++)
        w[3 + i] = BLEND_COLORMASK_RGBA;
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_BLEND, w, 3 + VIRGL_MAX_COLOR_BUFS,
                NULL, 0);
}

int virgl_create_dsa_off(struct virgl_enc *e, uint32_t handle)
{
    /* S0 (depth, alpha), S1 and S2 (front, back stencil), alpha reference. */
    const uint32_t w[] = {handle, 0, 0, 0, 0};

    if (!handle)
        return LVIO_E_INVAL;
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_DSA, w, 5, NULL, 0);
}

int virgl_create_rasterizer_fill(struct virgl_enc *e, uint32_t handle)
{
    /* S0 (cull none, fill both faces, no scissor), point size, sprite
     * coordinates, S3 (stipple, clip planes), line width, polygon offset
     * units, scale and clamp. */
    const uint32_t w[] = {handle, RS_DEPTH_CLIP | RS_HALF_PIXEL_CENTER, F32_ONE, 0, 0,
                          F32_ONE, 0, 0, 0};

    if (!handle)
        return LVIO_E_INVAL;
    return emit(e, VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_RASTERIZER, w, 9, NULL, 0);
}

int virgl_bind_object(struct virgl_enc *e, uint32_t type, uint32_t handle)
{
    if (type > 0xff)
        return LVIO_E_INVAL;
    return emit(e, VIRGL_CCMD_BIND_OBJECT, type, &handle, 1, NULL, 0);
}

int virgl_destroy_object(struct virgl_enc *e, uint32_t type, uint32_t handle)
{
    if (type > 0xff || !handle)
        return LVIO_E_INVAL;
    return emit(e, VIRGL_CCMD_DESTROY_OBJECT, type, &handle, 1, NULL, 0);
}

int virgl_set_framebuffer_state(struct virgl_enc *e, const uint32_t *cbufs, uint32_t n,
                                uint32_t zsurf)
{
    uint32_t w[2 + VIRGL_MAX_COLOR_BUFS] = {n, zsurf};

    if (n > VIRGL_MAX_COLOR_BUFS)
        return LVIO_E_INVAL;
    for (uint32_t i = 0; i < n; i++)
        w[2 + i] = cbufs[i];
    return emit(e, VIRGL_CCMD_SET_FRAMEBUFFER_STATE, 0, w, 2 + n, NULL, 0);
}

int virgl_set_viewport(struct virgl_enc *e, uint32_t x, uint32_t y, uint32_t width,
                       uint32_t height)
{
    if (width == 0 || height == 0 || width > 0x3fffffff || height > 0x3fffffff ||
        x > 0x1fffffff || y > 0x1fffffff)
        return LVIO_E_INVAL;
    /* Slot 0; scale x, y, z (half the size, half the depth range); translate
     * x, y, z (the centre). */
    const uint32_t w[] = {0,
                          virgl_f32((int32_t)width, 2),
                          virgl_f32((int32_t)height, 2),
                          virgl_f32(1, 2),
                          virgl_f32((int32_t)(2 * x + width), 2),
                          virgl_f32((int32_t)(2 * y + height), 2),
                          virgl_f32(1, 2)};
    return emit(e, VIRGL_CCMD_SET_VIEWPORT_STATE, 0, w, 7, NULL, 0);
}

int virgl_clear(struct virgl_enc *e, uint32_t buffers, const uint32_t rgba[4])
{
    /* Buffers, colour, depth (a double: 0.0 in two dwords), stencil. */
    const uint32_t w[] = {buffers, rgba[0], rgba[1], rgba[2], rgba[3], 0, 0, 0};
    return emit(e, VIRGL_CCMD_CLEAR, 0, w, VIRGL_CLEAR_DWORDS - 1, NULL, 0);
}

int virgl_inline_write_buffer(struct virgl_enc *e, uint32_t resource, uint32_t x,
                              const void *data, uint32_t bytes)
{
    if (bytes == 0 || bytes % 4 || bytes / 4 > VIRGL_MAX_PAYLOAD - 11)
        return LVIO_E_INVAL;
    /* Resource, level, usage, stride and layer stride (none for a buffer),
     * box x, y, z, width, height, depth; then the data. */
    const uint32_t w[] = {resource, 0, 0, 0, 0, x, 0, 0, bytes, 1, 1};
    return emit(e, VIRGL_CCMD_RESOURCE_INLINE_WRITE, 0, w, 11, data, bytes);
}

int virgl_set_vertex_buffers(struct virgl_enc *e, const struct virgl_vertex_buffer *vb,
                             uint32_t n)
{
    uint32_t w[3 * VIRGL_MAX_ATTRIBS];

    if (n > VIRGL_MAX_ATTRIBS)
        return LVIO_E_INVAL;
    for (uint32_t i = 0; i < n; i++) {
        w[3 * i] = vb[i].stride;
        w[3 * i + 1] = vb[i].offset;
        w[3 * i + 2] = vb[i].resource;
    }
    return emit(e, VIRGL_CCMD_SET_VERTEX_BUFFERS, 0, w, 3 * n, NULL, 0);
}

int virgl_draw_arrays(struct virgl_enc *e, uint32_t mode, uint32_t start, uint32_t count)
{
    if (count == 0 || start > UINT32_MAX - (count - 1))
        return LVIO_E_INVAL;
    /* Start, count, mode, not indexed, one instance, index bias, start
     * instance, no primitive restart (and its index), min and max index,
     * no count from stream output. */
    const uint32_t w[] = {start, count, mode, 0, 1, 0, 0, 0, 0, start, start + count - 1, 0};
    return emit(e, VIRGL_CCMD_DRAW_VBO, 0, w, VIRGL_DRAW_VBO_DWORDS - 1, NULL, 0);
}
