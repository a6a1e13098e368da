/* Rectangles, the test card and the cursor image; see gfx.h. */
#include "gfx.h"

const uint32_t gfx_bar_colors[GFX_BARS] = {
    0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000,
};

struct gfx_rect gfx_rect_clip(struct gfx_rect r, const struct gfx_fb *fb)
{
    if (r.x >= fb->width || r.y >= fb->height)
        return (struct gfx_rect){0, 0, 0, 0};
    if (r.w > fb->width - r.x)
        r.w = fb->width - r.x;
    if (r.h > fb->height - r.y)
        r.h = fb->height - r.y;
    return r;
}

struct gfx_rect gfx_rect_union(struct gfx_rect a, struct gfx_rect b)
{
    if (a.w == 0 || a.h == 0)
        return b;
    if (b.w == 0 || b.h == 0)
        return a;
    unsigned x0 = a.x < b.x ? a.x : b.x, y0 = a.y < b.y ? a.y : b.y;
    unsigned x1 = a.x + a.w > b.x + b.w ? a.x + a.w : b.x + b.w;
    unsigned y1 = a.y + a.h > b.y + b.h ? a.y + a.h : b.y + b.h;
    return (struct gfx_rect){x0, y0, x1 - x0, y1 - y0};
}

/* Two pixels per 64-bit store where the row allows (half the stores: under
 * an emulator every store costs, and a screen is a million pixels). */
void gfx_fill(struct gfx_fb *fb, struct gfx_rect r, uint32_t color)
{
    uint64_t two = (uint64_t)color << 32 | color;

    r = gfx_rect_clip(r, fb);
    for (unsigned y = r.y; y < r.y + r.h; y++) {
        uint32_t *p = fb->pixels + (size_t)y * fb->stride + r.x;
        uint32_t *end = p + r.w;
        if (p < end && ((uintptr_t)p & 7))
            *p++ = color;
        for (; end - p >= 2; p += 2)
            *(uint64_t *)(void *)p = two;
        if (p < end)
            *p = color;
    }
}

struct gfx_rect testcard_console_area(unsigned width, unsigned height)
{
    unsigned top = height * 2 / 3;
    return (struct gfx_rect){0, top, width, height - top};
}

void testcard_draw(struct gfx_fb *fb)
{
    struct gfx_rect console = testcard_console_area(fb->width, fb->height);

    for (unsigned i = 0; i < GFX_BARS; i++) {
        unsigned x0 = (unsigned)((uint64_t)i * fb->width / GFX_BARS);
        unsigned x1 = (unsigned)((uint64_t)(i + 1) * fb->width / GFX_BARS);
        gfx_fill(fb, (struct gfx_rect){x0, 0, x1 - x0, console.y}, gfx_bar_colors[i]);
    }
    gfx_fill(fb, console, GFX_CONSOLE_BG);
}

/*
 * The arrow's outline, in pixels, tip at (0, 0): down the left edge, in to
 * the notch, down the tail, back up, out to the right wing.
 */
static const int arrow[][2] = {{0, 0}, {0, 17}, {4, 13}, {7, 20}, {10, 19}, {7, 12}, {12, 12}};
#define ARROW_POINTS (int)(sizeof arrow / sizeof arrow[0])

/* Even-odd test of the pixel centre (x + 1/2, y + 1/2), in doubled units. */
static bool in_arrow(int x, int y)
{
    int px = 2 * x + 1, py = 2 * y + 1;
    bool in = false;

    for (int i = 0, j = ARROW_POINTS - 1; i < ARROW_POINTS; j = i++) {
        int xi = 2 * arrow[i][0], yi = 2 * arrow[i][1];
        int xj = 2 * arrow[j][0], yj = 2 * arrow[j][1];
        if ((yi > py) == (yj > py))
            continue;
        /* x of the edge at py, compared without division */
        int lhs = (px - xi) * (yj - yi), rhs = (xj - xi) * (py - yi);
        if (yj - yi > 0 ? lhs < rhs : lhs > rhs)
            in = !in;
    }
    return in;
}

void cursor_draw_arrow(uint32_t *pixels, unsigned *hot_x, unsigned *hot_y)
{
    for (int y = 0; y < CURSOR_SIDE; y++) {
        for (int x = 0; x < CURSOR_SIDE; x++) {
            uint32_t c = 0; /* transparent */
            if (in_arrow(x, y)) {
                bool edge = x == 0 || y == 0 || !in_arrow(x - 1, y) || !in_arrow(x + 1, y) ||
                            !in_arrow(x, y - 1) || !in_arrow(x, y + 1);
                c = edge ? 0xff000000u : 0xffffffffu;
            }
            pixels[y * CURSOR_SIDE + x] = c;
        }
    }
    *hot_x = 0;
    *hot_y = 0;
}
