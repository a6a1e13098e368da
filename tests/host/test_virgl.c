/*
 * The kernel's virgl encoder (kernel/virgl.c): the exact dwords of every
 * command against virglrenderer's protocol (virgl_protocol.h: command and
 * object numbers, the header's cmd | obj << 8 | len << 16, each payload's
 * layout and the length its decoder insists on), all-or-nothing when the
 * buffer is full, and virgl_f32 against the host's own float conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virgl.h"

#include <lvio/error.h>

#define ROOM 512

static lvio_le32 buf[ROOM];
static struct virgl_enc enc;

static int setup(void **state)
{
    (void)state;
    memset(buf, 0xa5, sizeof buf);
    virgl_init(&enc, buf, ROOM);
    return 0;
}

/* Dword i of what was written, in CPU order. */
static uint32_t dw(uint32_t i)
{
    return lvio_le32_to_cpu(buf[i]);
}

static uint32_t hdr(uint32_t cmd, uint32_t obj, uint32_t len)
{
    return cmd | obj << 8 | len << 16;
}

/* The stream is exactly `n` dwords: want[0..n). */
static void expect_stream(const uint32_t *want, uint32_t n)
{
    assert_int_equal(enc.len, n);
    for (uint32_t i = 0; i < n; i++) {
        if (dw(i) != want[i])
            fail_msg("dword %u is 0x%08x, expected 0x%08x", i, dw(i), want[i]);
    }
    /* Nothing written past the end. */
    assert_int_equal(lvio_le32_to_cpu(buf[n]), 0xa5a5a5a5u);
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- the protocol's numbers ---- */

static void test_numbers(void **state)
{
    (void)state;
    assert_int_equal(VIRGL_CCMD_CREATE_OBJECT, 1);
    assert_int_equal(VIRGL_CCMD_BIND_OBJECT, 2);
    assert_int_equal(VIRGL_CCMD_DESTROY_OBJECT, 3);
    assert_int_equal(VIRGL_CCMD_SET_VIEWPORT_STATE, 4);
    assert_int_equal(VIRGL_CCMD_SET_FRAMEBUFFER_STATE, 5);
    assert_int_equal(VIRGL_CCMD_SET_VERTEX_BUFFERS, 6);
    assert_int_equal(VIRGL_CCMD_CLEAR, 7);
    assert_int_equal(VIRGL_CCMD_DRAW_VBO, 8);
    assert_int_equal(VIRGL_CCMD_RESOURCE_INLINE_WRITE, 9);
    /* SET_SUB_CTX is 28 (after SET_UNIFORM_BUFFER, 27): BIND_SHADER 31. */
    assert_int_equal(VIRGL_CCMD_BIND_SHADER, 31);
    assert_int_equal(VIRGL_OBJECT_BLEND, 1);
    assert_int_equal(VIRGL_OBJECT_RASTERIZER, 2);
    assert_int_equal(VIRGL_OBJECT_DSA, 3);
    assert_int_equal(VIRGL_OBJECT_SHADER, 4);
    assert_int_equal(VIRGL_OBJECT_VERTEX_ELEMENTS, 5);
    assert_int_equal(VIRGL_OBJECT_SURFACE, 8);
    assert_int_equal(VIRGL_FORMAT_B8G8R8X8_UNORM, 2);
    assert_int_equal(VIRGL_FORMAT_R32G32B32A32_FLOAT, 31);
    assert_int_equal(VIRGL_FORMAT_R8G8B8A8_UNORM, 67);
    assert_int_equal(VIRGL_BIND_RENDER_TARGET, 2);
    assert_int_equal(VIRGL_BIND_SAMPLER_VIEW, 8);
    assert_int_equal(VIRGL_BIND_VERTEX_BUFFER, 16);
    assert_int_equal(VIRGL_BIND_SCANOUT, 1 << 18);
    assert_int_equal(VIRGL_PRIM_TRIANGLES, 4);
    assert_int_equal(VIRGL_CLEAR_COLOR0, 4);
}

/* ---- floats ---- */

static void test_f32_simple(void **state)
{
    (void)state;
    assert_int_equal(virgl_f32(0, 7), 0);
    assert_int_equal(virgl_f32(1, 1), 0x3f800000u);
    assert_int_equal(virgl_f32(-1, 1), 0xbf800000u);
    assert_int_equal(virgl_f32(1, 2), 0x3f000000u);
    assert_int_equal(virgl_f32(256, 2), 0x43000000u); /* 128.0 */
    assert_int_equal(virgl_f32(-3, 4), 0xbf400000u);
}

static void test_f32_matches_host(void **state)
{
    (void)state;
    static const int32_t nums[] = {1, 2, 3, 7, 85, 127, 128, 255, 1000, 65535, 1 << 24,
                                   (1 << 24) + 1, 0x7fffffff, -1, -5, -255, -0x7fffffff};
    static const uint32_t dens[] = {1, 2, 3, 5, 6, 10, 255, 256, 1000, 65536, 0xfffffffbu,
                                    0xffffffffu};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        for (size_t j = 0; j < sizeof dens / sizeof dens[0]; j++) {
            /* double holds both exactly; one rounding to float, as ours. */
            float want = (float)((double)nums[i] / (double)dens[j]);
            uint32_t got = virgl_f32(nums[i], dens[j]);
            if (got != fbits(want))
                fail_msg("%d/%u: 0x%08x, the host says 0x%08x", nums[i], dens[j], got,
                         fbits(want));
        }
    }
}

/* Every 8-bit colour channel n/255 comes back as n when the host converts
 * it to UNORM8 (x * 255, rounded). */
static void test_f32_unorm8_round_trip(void **state)
{
    (void)state;
    for (int n = 0; n <= 255; n++) {
        uint32_t b = virgl_f32(n, 255);
        float f;
        memcpy(&f, &b, 4);
        assert_int_equal((int)(f * 255.0f + 0.5f), n);
    }
}

/* ---- each command ---- */

static void test_surface(void **state)
{
    (void)state;
    assert_int_equal(virgl_create_surface(&enc, 10, 3, VIRGL_FORMAT_B8G8R8X8_UNORM, 0, 0, 0),
                     LVIO_OK);
    const uint32_t want[] = {hdr(1, 8, 5), 10, 3, 2, 0, 0};
    expect_stream(want, 6);
}

static void test_surface_layers(void **state)
{
    (void)state;
    assert_int_equal(virgl_create_surface(&enc, 1, 2, 67, 3, 4, 9), LVIO_OK);
    const uint32_t want[] = {hdr(1, 8, 5), 1, 2, 67, 3, 4 | 9 << 16};
    expect_stream(want, 6);
    assert_int_equal(virgl_create_surface(&enc, 0, 2, 67, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(virgl_create_surface(&enc, 1, 2, 67, 0, 2, 1), LVIO_E_INVAL);
    assert_int_equal(enc.len, 6);
}

static void test_shader(void **state)
{
    (void)state;
    const char *text = "FRAG\nEND\n"; /* 9 bytes + NUL: 3 dwords */
    assert_int_equal(virgl_create_shader(&enc, 7, VIRGL_SHADER_FRAGMENT, text, 300), LVIO_OK);
    /* Handle, type, length in bytes with the NUL, tokens, no SO outputs. */
    const uint32_t want[] = {hdr(1, 4, 8), 7, 1, 10, 300, 0};
    assert_int_equal(enc.len, 9);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(dw(i), want[i]);
    /* The text, its NUL and zero padding, byte for byte. */
    const uint8_t *bytes = (const uint8_t *)&buf[6];
    assert_memory_equal(bytes, "FRAG\nEND\n\0\0\0", 12);
}

static void test_shader_exact_dword(void **state)
{
    (void)state;
    const char *text = "VERTEND"; /* 7 + NUL = 8 bytes: no padding */
    assert_int_equal(virgl_create_shader(&enc, 1, VIRGL_SHADER_VERTEX, text, 20), LVIO_OK);
    assert_int_equal(dw(0), hdr(1, 4, 7));
    assert_int_equal(dw(3), 8);
    assert_memory_equal(&buf[6], "VERTEND\0", 8);
    assert_int_equal(enc.len, 8);
}

static void test_bind_shader(void **state)
{
    (void)state;
    assert_int_equal(virgl_bind_shader(&enc, 5, VIRGL_SHADER_VERTEX), LVIO_OK);
    const uint32_t want[] = {hdr(31, 0, 2), 5, 0};
    expect_stream(want, 3);
}

static void test_vertex_elements(void **state)
{
    (void)state;
    const struct virgl_vertex_element ve[2] = {
        {0, 0, 0, VIRGL_FORMAT_R32G32B32A32_FLOAT},
        {16, 0, 0, VIRGL_FORMAT_R32G32B32A32_FLOAT},
    };
    assert_int_equal(virgl_create_vertex_elements(&enc, 4, ve, 2), LVIO_OK);
    const uint32_t want[] = {hdr(1, 5, 9), 4, 0, 0, 0, 31, 16, 0, 0, 31};
    expect_stream(want, 10);
    assert_int_equal(virgl_create_vertex_elements(&enc, 4, ve, 0), LVIO_E_INVAL);
    assert_int_equal(virgl_create_vertex_elements(&enc, 4, ve, 33), LVIO_E_INVAL);
}

static void test_blend(void **state)
{
    (void)state;
    assert_int_equal(virgl_create_blend_opaque(&enc, 2), LVIO_OK);
    /* Length 11 (VIRGL_OBJ_BLEND_SIZE): handle, S0, S1, S2 per colour buffer
     * with the colour mask 0xf at bit 27 and blend_enable (bit 0) clear. */
    const uint32_t m = 0xfu << 27;
    const uint32_t want[] = {hdr(1, 1, 11), 2, 0, 0, m, m, m, m, m, m, m, m};
    expect_stream(want, 12);
}

static void test_dsa(void **state)
{
    (void)state;
    assert_int_equal(virgl_create_dsa_off(&enc, 3), LVIO_OK);
    const uint32_t want[] = {hdr(1, 3, 5), 3, 0, 0, 0, 0};
    expect_stream(want, 6);
}

static void test_rasterizer(void **state)
{
    (void)state;
    assert_int_equal(virgl_create_rasterizer_fill(&enc, 9), LVIO_OK);
    /* S0: depth_clip (bit 1), half_pixel_center (bit 29); cull_face
     * (bits 8-9) and fill modes (10-13) 0; point size 1.0; sprite 0; S3 0;
     * line width 1.0; offsets 0. Length 9 (VIRGL_OBJ_RS_SIZE). */
    const uint32_t want[] = {hdr(1, 2, 9), 9, 1u << 1 | 1u << 29, 0x3f800000u, 0, 0,
                             0x3f800000u, 0, 0, 0};
    expect_stream(want, 10);
}

static void test_bind_and_destroy(void **state)
{
    (void)state;
    assert_int_equal(virgl_bind_object(&enc, VIRGL_OBJECT_DSA, 3), LVIO_OK);
    assert_int_equal(virgl_bind_object(&enc, VIRGL_OBJECT_VERTEX_ELEMENTS, 4), LVIO_OK);
    assert_int_equal(virgl_destroy_object(&enc, VIRGL_OBJECT_SURFACE, 10), LVIO_OK);
    const uint32_t want[] = {hdr(2, 3, 1), 3, hdr(2, 5, 1), 4, hdr(3, 8, 1), 10};
    expect_stream(want, 6);
    assert_int_equal(virgl_bind_object(&enc, 0x100, 1), LVIO_E_INVAL);
    assert_int_equal(virgl_destroy_object(&enc, 8, 0), LVIO_E_INVAL);
}

static void test_framebuffer(void **state)
{
    (void)state;
    const uint32_t cbufs[2] = {10, 11};
    assert_int_equal(virgl_set_framebuffer_state(&enc, cbufs, 1, 0), LVIO_OK);
    assert_int_equal(virgl_set_framebuffer_state(&enc, cbufs, 2, 12), LVIO_OK);
    /* nr_cbufs, zsurf handle, then the colour surfaces: length 2 + n. */
    const uint32_t want[] = {hdr(5, 0, 3), 1, 0, 10, hdr(5, 0, 4), 2, 12, 10, 11};
    expect_stream(want, 9);
    assert_int_equal(virgl_set_framebuffer_state(&enc, cbufs, 9, 0), LVIO_E_INVAL);
}

static void test_viewport(void **state)
{
    (void)state;
    assert_int_equal(virgl_set_viewport(&enc, 0, 0, 256, 256), LVIO_OK);
    /* Slot 0; scale (128, 128, 0.5); translate (128, 128, 0.5). */
    const uint32_t want[] = {hdr(4, 0, 7), 0, fbits(128.0f), fbits(128.0f), fbits(0.5f),
                             fbits(128.0f), fbits(128.0f), fbits(0.5f)};
    expect_stream(want, 8);
}

static void test_viewport_offset_odd(void **state)
{
    (void)state;
    assert_int_equal(virgl_set_viewport(&enc, 10, 20, 101, 33), LVIO_OK);
    const uint32_t want[] = {hdr(4, 0, 7), 0, fbits(50.5f), fbits(16.5f), fbits(0.5f),
                             fbits(60.5f), fbits(36.5f), fbits(0.5f)};
    expect_stream(want, 8);
    assert_int_equal(virgl_set_viewport(&enc, 0, 0, 0, 1), LVIO_E_INVAL);
}

static void test_clear(void **state)
{
    (void)state;
    const uint32_t rgba[4] = {fbits(0.25f), fbits(0.5f), fbits(0.75f), fbits(1.0f)};
    assert_int_equal(virgl_clear(&enc, VIRGL_CLEAR_COLOR0, rgba), LVIO_OK);
    /* Length 8 (VIRGL_OBJ_CLEAR_SIZE): buffers, 4 colour dwords, depth
     * (a double, 2 dwords), stencil. */
    const uint32_t want[] = {hdr(7, 0, 8), 4, rgba[0], rgba[1], rgba[2], rgba[3], 0, 0, 0};
    expect_stream(want, 9);
    assert_int_equal(VIRGL_CLEAR_DWORDS, 9);
}

static void test_inline_write(void **state)
{
    (void)state;
    const uint32_t data[3] = {0x11223344u, 0x55667788u, 0x99aabbccu};
    assert_int_equal(virgl_inline_write_buffer(&enc, 6, 8, data, sizeof data), LVIO_OK);
    /* Resource, level, usage, stride, layer stride, box (x 8, y 0, z 0,
     * w 12 bytes, h 1, d 1), then the data: length 11 + 3. */
    const uint32_t head[] = {hdr(9, 0, 14), 6, 0, 0, 0, 0, 8, 0, 0, 12, 1, 1};
    for (uint32_t i = 0; i < 12; i++)
        assert_int_equal(dw(i), head[i]);
    assert_memory_equal(&buf[12], data, sizeof data); /* bytes as they are */
    assert_int_equal(enc.len, 15);
    assert_int_equal(virgl_inline_write_buffer(&enc, 6, 0, data, 6), LVIO_E_INVAL);
    assert_int_equal(virgl_inline_write_buffer(&enc, 6, 0, data, 0), LVIO_E_INVAL);
}

static void test_vertex_buffers(void **state)
{
    (void)state;
    const struct virgl_vertex_buffer vb[2] = {{32, 0, 5}, {16, 64, 6}};
    assert_int_equal(virgl_set_vertex_buffers(&enc, vb, 2), LVIO_OK);
    /* Per buffer: stride, offset, resource handle (length 3n). */
    const uint32_t want[] = {hdr(6, 0, 6), 32, 0, 5, 16, 64, 6};
    expect_stream(want, 7);
}

static void test_draw(void **state)
{
    (void)state;
    assert_int_equal(virgl_draw_arrays(&enc, VIRGL_PRIM_TRIANGLES, 0, 3), LVIO_OK);
    /* Length 12 (VIRGL_DRAW_VBO_SIZE): start, count, mode, indexed,
     * instance count, index bias, start instance, primitive restart,
     * restart index, min index, max index, count from SO. */
    const uint32_t want[] = {hdr(8, 0, 12), 0, 3, 4, 0, 1, 0, 0, 0, 0, 0, 2, 0};
    expect_stream(want, 13);
    assert_int_equal(virgl_draw_arrays(&enc, 4, 0, 0), LVIO_E_INVAL);
    assert_int_equal(virgl_draw_arrays(&enc, 4, UINT32_MAX, 2), LVIO_E_INVAL);
}

/* ---- a full buffer ---- */

static void test_full_writes_nothing(void **state)
{
    (void)state;
    const uint32_t rgba[4] = {0, 0, 0, 0};
    virgl_init(&enc, buf, VIRGL_CLEAR_DWORDS + 5);
    assert_int_equal(virgl_clear(&enc, VIRGL_CLEAR_COLOR0, rgba), LVIO_OK);
    assert_int_equal(enc.len, VIRGL_CLEAR_DWORDS);
    /* 5 dwords left: a draw (13) does not fit and leaves no trace. */
    assert_int_equal(virgl_draw_arrays(&enc, 4, 0, 3), LVIO_E_NOSPC);
    assert_int_equal(enc.len, VIRGL_CLEAR_DWORDS);
    assert_int_equal(lvio_le32_to_cpu(buf[VIRGL_CLEAR_DWORDS]), 0xa5a5a5a5u);
    /* Exactly enough room: a surface is 6 dwords, a bind 2 fits in 5. */
    assert_int_equal(virgl_create_surface(&enc, 1, 1, 2, 0, 0, 0), LVIO_E_NOSPC);
    assert_int_equal(virgl_bind_shader(&enc, 1, 0), LVIO_OK);
    assert_int_equal(virgl_bind_object(&enc, 1, 1), LVIO_OK);
    assert_int_equal(enc.len, VIRGL_CLEAR_DWORDS + 5);
    assert_int_equal(virgl_bind_object(&enc, 1, 1), LVIO_E_NOSPC);
    /* Reset: the same buffer, empty again. */
    virgl_reset(&enc);
    assert_int_equal(enc.len, 0);
    assert_int_equal(virgl_draw_arrays(&enc, 4, 0, 3), LVIO_OK);
}

static void test_full_shader_text(void **state)
{
    (void)state;
    virgl_init(&enc, buf, 8);
    /* 6 header dwords + 3 text dwords = 9 > 8. */
    assert_int_equal(virgl_create_shader(&enc, 1, 0, "FRAG\nEND\n", 10), LVIO_E_NOSPC);
    assert_int_equal(enc.len, 0);
    assert_int_equal(lvio_le32_to_cpu(buf[0]), 0xa5a5a5a5u);
}

/* ---- a whole frame, as the kernel draws it ---- */

static void test_sequence_lengths_add_up(void **state)
{
    (void)state;
    const uint32_t cbuf = 1, rgba[4] = {0, 0, 0, fbits(1.0f)};
    const struct virgl_vertex_buffer vb = {32, 0, 2};
    assert_int_equal(virgl_set_framebuffer_state(&enc, &cbuf, 1, 0), LVIO_OK);
    assert_int_equal(virgl_set_viewport(&enc, 0, 0, 64, 64), LVIO_OK);
    assert_int_equal(virgl_clear(&enc, VIRGL_CLEAR_COLOR0, rgba), LVIO_OK);
    assert_int_equal(virgl_set_vertex_buffers(&enc, &vb, 1), LVIO_OK);
    assert_int_equal(virgl_draw_arrays(&enc, VIRGL_PRIM_TRIANGLES, 0, 3), LVIO_OK);
    /* Walk the stream by its headers: each length leads to the next. */
    uint32_t at = 0, cmds = 0;
    const uint32_t order[] = {5, 4, 7, 6, 8};
    while (at < enc.len) {
        assert_int_equal(dw(at) & 0xff, order[cmds]);
        at += (dw(at) >> 16) + 1;
        cmds++;
    }
    assert_int_equal(at, enc.len);
    assert_int_equal(cmds, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_numbers, setup),
        cmocka_unit_test_setup(test_f32_simple, setup),
        cmocka_unit_test_setup(test_f32_matches_host, setup),
        cmocka_unit_test_setup(test_f32_unorm8_round_trip, setup),
        cmocka_unit_test_setup(test_surface, setup),
        cmocka_unit_test_setup(test_surface_layers, setup),
        cmocka_unit_test_setup(test_shader, setup),
        cmocka_unit_test_setup(test_shader_exact_dword, setup),
        cmocka_unit_test_setup(test_bind_shader, setup),
        cmocka_unit_test_setup(test_vertex_elements, setup),
        cmocka_unit_test_setup(test_blend, setup),
        cmocka_unit_test_setup(test_dsa, setup),
        cmocka_unit_test_setup(test_rasterizer, setup),
        cmocka_unit_test_setup(test_bind_and_destroy, setup),
        cmocka_unit_test_setup(test_framebuffer, setup),
        cmocka_unit_test_setup(test_viewport, setup),
        cmocka_unit_test_setup(test_viewport_offset_odd, setup),
        cmocka_unit_test_setup(test_clear, setup),
        cmocka_unit_test_setup(test_inline_write, setup),
        cmocka_unit_test_setup(test_vertex_buffers, setup),
        cmocka_unit_test_setup(test_draw, setup),
        cmocka_unit_test_setup(test_full_writes_nothing, setup),
        cmocka_unit_test_setup(test_full_shader_text, setup),
        cmocka_unit_test_setup(test_sequence_lengths_add_up, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
