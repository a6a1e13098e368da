/* Text console on a framebuffer region, with damage tracking; see gfx.h. */
#include "gfx.h"

/* kernel/lib/string.c in the kernel, the C library in host tests */
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

#define MARGIN 4

int fbcon_init(struct fbcon *con, struct gfx_fb *fb, struct gfx_rect area,
               const struct psf_font *font, uint32_t fg, uint32_t bg)
{
    area = gfx_rect_clip(area, fb);
    memset(con, 0, sizeof *con);
    if (!font || !font->glyphs || area.w < 2 * MARGIN + font->width ||
        area.h < 2 * MARGIN + font->height)
        return -1;
    con->fb = fb;
    con->area = area;
    con->font = font;
    con->fg = fg;
    con->bg = bg;
    con->x0 = area.x + MARGIN;
    con->y0 = area.y + MARGIN;
    con->cols = (area.w - 2 * MARGIN) / font->width;
    con->rows = (area.h - 2 * MARGIN) / font->height;
    gfx_fill(fb, area, bg);
    con->damage = area;
    return 0;
}

unsigned fbcon_line_height(const struct fbcon *con)
{
    return con->font ? con->font->height : 0;
}

static void draw_glyph(struct fbcon *con, unsigned col, unsigned row, char c)
{
    const struct psf_font *f = con->font;
    const uint8_t *g = psf_glyph(f, (uint8_t)c);
    unsigned x0 = con->x0 + col * f->width, y0 = con->y0 + row * f->height;

    for (unsigned y = 0; y < f->height; y++) {
        uint32_t *px = con->fb->pixels + (size_t)(y0 + y) * con->fb->stride + x0;
        const uint8_t *bits = g + y * f->row_bytes;
        for (unsigned x = 0; x < f->width; x++)
            px[x] = (bits[x / 8] & (0x80 >> (x % 8))) ? con->fg : con->bg;
    }
    con->damage = gfx_rect_union(con->damage,
                                 (struct gfx_rect){x0, y0, f->width, f->height});
}

/* Move the text grid up one line and clear the last one. */
static void scroll(struct fbcon *con)
{
    const struct psf_font *f = con->font;
    size_t bytes = (size_t)con->cols * f->width * sizeof(uint32_t);
    unsigned lines = (con->rows - 1) * f->height;

    for (unsigned y = 0; y < lines; y++) {
        uint32_t *dst = con->fb->pixels + (size_t)(con->y0 + y) * con->fb->stride + con->x0;
        memmove(dst, dst + (size_t)f->height * con->fb->stride, bytes);
    }
    gfx_fill(con->fb, (struct gfx_rect){con->x0, con->y0 + lines, con->cols * f->width, f->height},
             con->bg);
    con->damage = con->area;
}

static void newline(struct fbcon *con)
{
    con->col = 0;
    if (++con->row < con->rows)
        return;
    scroll(con);
    con->row = con->rows - 1;
}

static void put(struct fbcon *con, char c)
{
    switch (c) {
    case '\n':
        newline(con);
        return;
    case '\r':
        con->col = 0;
        return;
    case '\t':
        do
            put(con, ' ');
        while (con->col % 8 != 0 && con->col != 0);
        return;
    default:
        break;
    }
    if (con->col == con->cols)
        newline(con);
    draw_glyph(con, con->col++, con->row, (c >= 32 && c < 127) ? c : '?');
}

void fbcon_write(struct fbcon *con, const char *s, size_t n)
{
    if (!con->font)
        return;
    while (n--)
        put(con, *s++);
}

struct gfx_rect fbcon_take_damage(struct fbcon *con)
{
    struct gfx_rect d = con->damage;
    con->damage = (struct gfx_rect){0, 0, 0, 0};
    return d;
}
