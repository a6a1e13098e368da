/*
 * The kernel's drawing code on the host: the PSF reader against the real
 * Debian console font and broken blobs, the test card's bars at several
 * widths, the console's damage rectangles and scrolling, the cursor image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gfx.h"
#include "psf.h"

#ifndef FONT_PATH
#error "FONT_PATH: the decompressed console font (the Makefile sets it)"
#endif

static uint8_t *font_blob;
static size_t font_len;
static struct psf_font font;

static int load_font(void **state)
{
    (void)state;
    FILE *f = fopen(FONT_PATH, "rb");
    if (!f)
        return -1;
    font_blob = malloc(1 << 20);
    font_len = fread(font_blob, 1, 1 << 20, f);
    fclose(f);
    return psf_load(&font, font_blob, font_len) == PSF_OK ? 0 : -1;
}

static int free_font(void **state)
{
    (void)state;
    free(font_blob);
    return 0;
}

struct canvas {
    struct gfx_fb fb;
    uint32_t *mem;
};

static void canvas_new(struct canvas *c, unsigned w, unsigned h)
{
    c->mem = calloc((size_t)w * h, sizeof(uint32_t));
    c->fb = (struct gfx_fb){c->mem, w, h, w};
}

static uint32_t px(const struct canvas *c, unsigned x, unsigned y)
{
    return c->mem[(size_t)y * c->fb.stride + x];
}

/* ---- PSF ------------------------------------------------------------------ */

static void test_psf_real_font(void **state)
{
    (void)state;
    assert_int_equal(font.width, 8);
    assert_int_equal(font.height, 16);
    assert_true(font.count == 256 || font.count == 512);
    /* 'A' and ' ' map to different glyphs, 'A' has ink, ' ' has none */
    const uint8_t *a = psf_glyph(&font, 'A'), *sp = psf_glyph(&font, ' ');
    assert_ptr_not_equal(a, sp);
    unsigned ink_a = 0, ink_sp = 0;
    for (unsigned i = 0; i < font.glyph_bytes; i++) {
        ink_a += a[i] != 0;
        ink_sp += sp[i] != 0;
    }
    assert_true(ink_a > 4);
    assert_int_equal(ink_sp, 0);
    /* outside ASCII falls back to '?' */
    assert_ptr_equal(psf_glyph(&font, 0x2603), psf_glyph(&font, '?'));
}

static void test_psf_broken_blobs(void **state)
{
    (void)state;
    struct psf_font f;
    uint8_t buf[64] = {0};

    assert_int_equal(psf_load(&f, buf, 2), PSF_E_SHORT);
    assert_int_equal(psf_load(&f, NULL, 100), PSF_E_SHORT);
    assert_int_equal(psf_load(&f, buf, sizeof buf), PSF_E_MAGIC);
    /* PSF1 claiming 256 glyphs of 16 bytes in a 64-byte blob */
    buf[0] = 0x36, buf[1] = 0x04, buf[2] = 0, buf[3] = 16;
    assert_int_equal(psf_load(&f, buf, sizeof buf), PSF_E_GLYPHS);
    buf[3] = 0; /* zero-height glyphs */
    assert_int_equal(psf_load(&f, buf, sizeof buf), PSF_E_HEADER);
    /* the real font cut short */
    assert_int_equal(psf_load(&f, font_blob, font_len / 2), PSF_E_GLYPHS);
    /* PSF2: header truncated, bad sizes, too many glyphs */
    uint8_t p2[64] = {0x72, 0xb5, 0x4a, 0x86};
    assert_int_equal(psf_load(&f, p2, 20), PSF_E_SHORT);
    p2[8] = 32;                            /* header size */
    p2[16] = 1;                            /* 1 glyph */
    p2[20] = 16, p2[24] = 16, p2[28] = 8;  /* 16 bytes, 16 rows, 8 wide */
    assert_int_equal(psf_load(&f, p2, 48), PSF_OK);
    p2[20] = 15; /* bytes per glyph disagree with the size */
    assert_int_equal(psf_load(&f, p2, 48), PSF_E_HEADER);
    p2[20] = 16;
    p2[16] = 2; /* two glyphs do not fit */
    assert_int_equal(psf_load(&f, p2, 48), PSF_E_GLYPHS);
    p2[16] = 1;
    p2[8] = 200; /* header beyond the blob */
    assert_int_equal(psf_load(&f, p2, 48), PSF_E_HEADER);
}

/* ---- test card -------------------------------------------------------- */

static void check_card(unsigned w, unsigned h)
{
    struct canvas c;
    canvas_new(&c, w, h);
    testcard_draw(&c.fb);
    unsigned top = h * 2 / 3;
    for (unsigned i = 0; i < GFX_BARS; i++) {
        unsigned x0 = i * w / 8, x1 = (i + 1) * w / 8 - 1;
        for (unsigned y = 0; y < top; y += top / 4 ? top / 4 : 1) {
            assert_int_equal(px(&c, x0, y), gfx_bar_colors[i]);
            assert_int_equal(px(&c, x1, y), gfx_bar_colors[i]);
            assert_int_equal(px(&c, (x0 + x1) / 2, y), gfx_bar_colors[i]);
        }
        assert_int_equal(px(&c, x0, top - 1), gfx_bar_colors[i]);
    }
    assert_int_equal(px(&c, 0, top), GFX_CONSOLE_BG);
    assert_int_equal(px(&c, w - 1, h - 1), GFX_CONSOLE_BG);
    struct gfx_rect a = testcard_console_area(w, h);
    assert_int_equal(a.y, top);
    assert_int_equal(a.y + a.h, h);
    assert_int_equal(a.w, w);
    free(c.mem);
}

static void test_card_widths(void **state)
{
    (void)state;
    check_card(1280, 800);
    check_card(1024, 768);
    check_card(1366, 768);
    check_card(803, 601);
    check_card(8, 3);
}

/* ---- console ---------------------------------------------------------- */

static unsigned count(const struct canvas *c, struct gfx_rect r, uint32_t color)
{
    unsigned n = 0;
    for (unsigned y = r.y; y < r.y + r.h; y++)
        for (unsigned x = r.x; x < r.x + r.w; x++)
            n += px(c, x, y) == color;
    return n;
}

static void test_console_line_damage(void **state)
{
    (void)state;
    struct canvas c;
    struct fbcon con;
    canvas_new(&c, 640, 480);
    struct gfx_rect area = testcard_console_area(640, 480);
    assert_int_equal(fbcon_init(&con, &c.fb, area, &font, GFX_CONSOLE_FG, GFX_CONSOLE_BG), 0);
    struct gfx_rect d = fbcon_take_damage(&con);
    assert_int_equal(d.h, area.h); /* the clear */
    fbcon_write(&con, "hello\n", 6);
    d = fbcon_take_damage(&con);
    assert_int_equal(d.h, 16);      /* one line, not the area */
    assert_int_equal(d.w, 5 * 8);
    assert_int_equal(d.y, area.y + 4);
    assert_true(count(&c, d, GFX_CONSOLE_FG) > 20); /* text is visible */
    fbcon_write(&con, "second", 6);
    d = fbcon_take_damage(&con);
    assert_int_equal(d.y, area.y + 4 + 16);
    assert_int_equal(d.h, 16);
    d = fbcon_take_damage(&con);
    assert_int_equal(d.w, 0); /* taken */
    free(c.mem);
}

static void test_console_wraps_and_scrolls(void **state)
{
    (void)state;
    struct canvas c;
    struct fbcon con;
    canvas_new(&c, 100, 60); /* 11 columns, 3 rows */
    struct gfx_rect area = {0, 0, 100, 60};
    assert_int_equal(fbcon_init(&con, &c.fb, area, &font, GFX_CONSOLE_FG, GFX_CONSOLE_BG), 0);
    assert_int_equal(con.cols, 11);
    assert_int_equal(con.rows, 3);
    fbcon_write(&con, "0123456789ABC", 13); /* wraps after 11 */
    assert_int_equal(con.row, 1);
    assert_int_equal(con.col, 2);
    fbcon_take_damage(&con);
    struct gfx_rect row1 = {4, 4 + 16, 88, 16};
    unsigned ink_row1 = count(&c, row1, GFX_CONSOLE_FG);
    assert_true(ink_row1 > 0);
    fbcon_write(&con, "\n\n", 2); /* second newline scrolls */
    assert_int_equal(con.row, 2);
    struct gfx_rect d = fbcon_take_damage(&con);
    assert_int_equal(d.h, area.h);
    struct gfx_rect row0 = {4, 4, 88, 16};
    assert_int_equal(count(&c, row0, GFX_CONSOLE_FG), ink_row1); /* moved up */
    struct gfx_rect row2 = {4, 4 + 32, 88, 16};
    assert_int_equal(count(&c, row2, GFX_CONSOLE_FG), 0); /* cleared */
    free(c.mem);
}

static void test_console_refuses_tiny_area(void **state)
{
    (void)state;
    struct canvas c;
    struct fbcon con;
    canvas_new(&c, 10, 10);
    assert_int_equal(fbcon_init(&con, &c.fb, (struct gfx_rect){0, 0, 10, 10}, &font, 1, 0), -1);
    fbcon_write(&con, "x", 1); /* harmless */
    assert_int_equal(fbcon_init(&con, &c.fb, (struct gfx_rect){0, 0, 100, 100}, NULL, 1, 0), -1);
    free(c.mem);
}

/* ---- cursor ----------------------------------------------------------- */

/* Every start column and width of a small framebuffer (odd and even, so
 * the two-pixel stores start and end on either half), clipped at the
 * edges: exactly the rectangle's pixels change. */
static void test_fill_exact(void **state)
{
    (void)state;
    enum { W = 9, H = 3, STRIDE = 11 };
    uint64_t store[(STRIDE * H + 1) / 2 + 1];
    uint32_t *px = (uint32_t *)(void *)store;

    for (unsigned offset = 0; offset < 2; offset++) {
        struct gfx_fb fb = {px + offset, W, H, STRIDE};
        for (unsigned x = 0; x <= W; x++) {
            for (unsigned w = 0; w <= W + 2; w++) {
                for (unsigned i = 0; i < STRIDE * H + 1; i++)
                    px[i] = 0x11111111u;
                gfx_fill(&fb, (struct gfx_rect){x, 1, w, 5}, 0xabcdef01u);
                for (unsigned y = 0; y < H; y++)
                    for (unsigned c = 0; c < STRIDE; c++) {
                        bool in = y >= 1 && c < W && c >= x && c < x + w;
                        assert_int_equal(px[offset + y * STRIDE + c], in ? 0xabcdef01u : 0x11111111u);
                    }
                assert_int_equal(px[offset ? 0 : STRIDE * H], 0x11111111u);
            }
        }
    }
}

static void test_cursor_arrow(void **state)
{
    (void)state;
    uint32_t img[CURSOR_SIDE * CURSOR_SIDE];
    unsigned hx = 99, hy = 99, opaque = 0, white = 0;
    cursor_draw_arrow(img, &hx, &hy);
    assert_true(hx < CURSOR_SIDE && hy < CURSOR_SIDE);
    for (unsigned i = 0; i < CURSOR_SIDE * CURSOR_SIDE; i++) {
        opaque += (img[i] >> 24) == 0xff;
        white += img[i] == 0xffffffffu;
    }
    assert_true(opaque > 100 && opaque < 400);
    assert_true(white > 50);
    assert_int_equal(img[CURSOR_SIDE * CURSOR_SIDE - 1], 0); /* far corner clear */
    assert_int_equal(img[CURSOR_SIDE - 1], 0);
    assert_int_equal(img[3 * CURSOR_SIDE + 1] >> 24, 0xff); /* near the tip: drawn */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psf_real_font),
        cmocka_unit_test(test_psf_broken_blobs),
        cmocka_unit_test(test_card_widths),
        cmocka_unit_test(test_console_line_damage),
        cmocka_unit_test(test_console_wraps_and_scrolls),
        cmocka_unit_test(test_console_refuses_tiny_area),
        cmocka_unit_test(test_fill_exact),
        cmocka_unit_test(test_cursor_arrow),
    };
    return cmocka_run_group_tests(tests, load_font, free_font);
}
