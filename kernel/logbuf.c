/*
 * The boot log: every character written to the serial console is kept in a
 * ring (so a console that appears later can show what came before) and
 * passed to the mirror, if one is set (the screen's console).
 */
#include "gfx.h"
#include "kernel.h"

static char ring[LOGBUF_SIZE];
static size_t written; /* characters ever logged */
static void (*mirror)(void *ctx, const char *s, size_t n);
static void *mirror_ctx;
static bool in_mirror; /* the mirror printing must not recurse into itself */

void logbuf_putc(char c)
{
    ring[written++ % LOGBUF_SIZE] = c;
    if (mirror && !in_mirror) {
        in_mirror = true;
        mirror(mirror_ctx, &c, 1);
        in_mirror = false;
    }
}

void logbuf_replay(void (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
    size_t start = written > LOGBUF_SIZE ? written - LOGBUF_SIZE : 0;

    for (size_t i = start; i < written;) {
        size_t at = i % LOGBUF_SIZE;
        size_t n = LOGBUF_SIZE - at < written - i ? LOGBUF_SIZE - at : written - i;
        fn(ctx, ring + at, n);
        i += n;
    }
}

void console_set_mirror(void (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
    mirror = fn;
    mirror_ctx = ctx;
}

extern const uint8_t font_psf_start[], font_psf_end[];

const struct psf_font *kernel_font(void)
{
    static struct psf_font font;
    static int state; /* 0 not loaded, 1 ok, -1 failed */

    if (state == 0) {
        int err = psf_load(&font, font_psf_start, (size_t)(font_psf_end - font_psf_start));
        state = err ? -1 : 1;
        if (err)
            kprintf("levitate: console font: %s\n", psf_strerror(err));
    }
    return state > 0 ? &font : NULL;
}
