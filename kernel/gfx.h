/*
 * Drawing for the test kernel's screens: a plain CPU framebuffer of
 * 0x00RRGGBB words (VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM in memory), the test
 * card of docs/design.md, a text console with damage tracking, and the cursor
 * image. Nothing here knows about the GPU: run_gpu.c presents the damage.
 */
#ifndef KERNEL_GFX_H
#define KERNEL_GFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psf.h"

struct gfx_fb {
    uint32_t *pixels;
    unsigned width, height;
    unsigned stride; /* in pixels */
};

/* A rectangle; w == 0 or h == 0 is empty. */
struct gfx_rect {
    unsigned x, y, w, h;
};

/* The test card's bars, left to right (docs/design.md). */
#define GFX_BARS 8
extern const uint32_t gfx_bar_colors[GFX_BARS];

/* The console: light text on a dark background. */
#define GFX_CONSOLE_FG 0xd0d0d0u
#define GFX_CONSOLE_BG 0x101820u

/* Fill `r` (clipped to fb) with `color`. */
void gfx_fill(struct gfx_fb *fb, struct gfx_rect r, uint32_t color);
/* Smallest rectangle holding both; an empty one adds nothing. */
struct gfx_rect gfx_rect_union(struct gfx_rect a, struct gfx_rect b);
/* `r` cut to the framebuffer. */
struct gfx_rect gfx_rect_clip(struct gfx_rect r, const struct gfx_fb *fb);

/* Top two thirds: eight bars, bar i over x in [i*W/8, (i+1)*W/8); bottom
 * third: the console background. */
void testcard_draw(struct gfx_fb *fb);
/* The bottom third, where the console goes. */
struct gfx_rect testcard_console_area(unsigned width, unsigned height);

/* A 64x64 0xAARRGGBB pointer arrow (white, black outline, transparent
 * elsewhere); its tip, the hotspot, is stored in *hot_x, *hot_y. */
#define CURSOR_SIDE 64
void cursor_draw_arrow(uint32_t *pixels, unsigned *hot_x, unsigned *hot_y);

/* ---- text console (fbcon.c) ---------------------------------------------- */

struct fbcon {
    struct gfx_fb *fb;
    struct gfx_rect area;       /* the region it owns */
    const struct psf_font *font;
    uint32_t fg, bg;
    unsigned x0, y0;            /* top left of the text grid */
    unsigned cols, rows;
    unsigned col, row;          /* where the next character goes */
    struct gfx_rect damage;     /* changed since the last take */
};

/* Clear `area` and start at its top left. Returns 0, or -1 when the area
 * cannot hold one character. */
int fbcon_init(struct fbcon *con, struct gfx_fb *fb, struct gfx_rect area,
               const struct psf_font *font, uint32_t fg, uint32_t bg);
/* Draw text: '\n' new line, '\r' start of line, '\t' to the next multiple
 * of 8, other non-printables as '?'; wraps at the right edge and scrolls
 * the area up one line at the bottom. */
void fbcon_write(struct fbcon *con, const char *s, size_t n);
/* What changed since the last call (a written line: that line's rectangle;
 * a scroll: the whole area), and forget it. */
struct gfx_rect fbcon_take_damage(struct fbcon *con);
unsigned fbcon_line_height(const struct fbcon *con);

/* ---- the boot log and the console mirror (logbuf.c) -------------------- */

/* Called for every character written to the serial console. */
void logbuf_putc(char c);
/* Feed everything logged so far (the last LOGBUF_SIZE bytes) to fn. */
#define LOGBUF_SIZE 16384
void logbuf_replay(void (*fn)(void *ctx, const char *s, size_t n), void *ctx);
/* From now on, also send every console character to fn (NULL: stop). */
void console_set_mirror(void (*fn)(void *ctx, const char *s, size_t n), void *ctx);

/* The console font embedded at build time (font.S); NULL, with a message,
 * if it does not parse. */
const struct psf_font *kernel_font(void);

#endif
