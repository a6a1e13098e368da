/*
 * PC Screen Font (PSF1 and PSF2) reader: the console font is a Debian
 * console font (console-setup-linux) embedded at build time (font.S), read
 * here with every length checked.
 */
#ifndef KERNEL_PSF_H
#define KERNEL_PSF_H

#include <stddef.h>
#include <stdint.h>

enum psf_error {
    PSF_OK = 0,
    PSF_E_SHORT = -1,   /* blob shorter than its header says */
    PSF_E_MAGIC = -2,   /* neither PSF1 nor PSF2 */
    PSF_E_HEADER = -3,  /* header values inconsistent (sizes, version) */
    PSF_E_GLYPHS = -4,  /* no glyphs, or more than the blob holds */
};

struct psf_font {
    const uint8_t *glyphs;     /* glyph bitmaps, rows MSB first */
    uint32_t count;            /* number of glyphs */
    uint32_t width, height;    /* in pixels */
    uint32_t row_bytes;        /* bytes per glyph row: (width + 7) / 8 */
    uint32_t glyph_bytes;      /* bytes per glyph: row_bytes * height */
    uint16_t ascii[128];       /* glyph for each ASCII code point */
};

/* Parse `len` bytes at `blob`; the font keeps pointing into the blob. */
int psf_load(struct psf_font *f, const void *blob, size_t len);
const char *psf_strerror(int err);

/* Bitmap of the glyph for code point `cp`; '?' for anything unmapped. */
const uint8_t *psf_glyph(const struct psf_font *f, uint32_t cp);

#endif
