/* PSF1 / PSF2 font parsing; see psf.h. Nothing here trusts the blob. */
#include "psf.h"

#define PSF1_MODE512 0x01
#define PSF1_MODEHASTAB 0x02
#define PSF1_MODESEQ 0x04
#define PSF2_HAS_UNICODE_TABLE 0x01
#define PSF2_HEADER_SIZE 32
#define NO_GLYPH 0xffff

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void map_ascii(struct psf_font *f, uint32_t cp, uint32_t glyph)
{
    if (cp < 128 && f->ascii[cp] == NO_GLYPH)
        f->ascii[cp] = (uint16_t)glyph;
}

/* PSF1 table: per glyph, 16-bit code points up to 0xffff; 0xfffe starts
 * sequences, which are skipped. */
static void psf1_table(struct psf_font *f, const uint8_t *p, const uint8_t *end)
{
    uint32_t glyph = 0;
    int in_seq = 0;

    for (; p + 2 <= end && glyph < f->count; p += 2) {
        uint32_t v = p[0] | (uint32_t)p[1] << 8;
        if (v == 0xffff) {
            glyph++;
            in_seq = 0;
        } else if (v == 0xfffe) {
            in_seq = 1;
        } else if (!in_seq) {
            map_ascii(f, v, glyph);
        }
    }
}

/* PSF2 table: per glyph, UTF-8 strings; 0xff ends a glyph's entry, 0xfe
 * starts sequences. Only single-byte (ASCII) characters matter here. */
static void psf2_table(struct psf_font *f, const uint8_t *p, const uint8_t *end)
{
    uint32_t glyph = 0;
    int in_seq = 0;

    for (; p < end && glyph < f->count; p++) {
        if (*p == 0xff) {
            glyph++;
            in_seq = 0;
        } else if (*p == 0xfe) {
            in_seq = 1;
        } else if (!in_seq && *p < 0x80) {
            map_ascii(f, *p, glyph);
        }
    }
}

static int psf1_load(struct psf_font *f, const uint8_t *b, size_t len)
{
    f->count = (b[2] & PSF1_MODE512) ? 512 : 256;
    f->width = 8;
    f->height = b[3];
    f->row_bytes = 1;
    f->glyph_bytes = f->height;
    if (f->height == 0)
        return PSF_E_HEADER;
    if ((uint64_t)f->count * f->glyph_bytes > len - 4)
        return PSF_E_GLYPHS;
    f->glyphs = b + 4;
    if (b[2] & (PSF1_MODEHASTAB | PSF1_MODESEQ))
        psf1_table(f, f->glyphs + (size_t)f->count * f->glyph_bytes, b + len);
    return PSF_OK;
}

static int psf2_load(struct psf_font *f, const uint8_t *b, size_t len)
{
    if (len < PSF2_HEADER_SIZE)
        return PSF_E_SHORT;
    uint32_t version = le32(b + 4), header = le32(b + 8), flags = le32(b + 12);
    f->count = le32(b + 16);
    f->glyph_bytes = le32(b + 20);
    f->height = le32(b + 24);
    f->width = le32(b + 28);
    if (version != 0 || header < PSF2_HEADER_SIZE || header > len)
        return PSF_E_HEADER;
    if (f->width == 0 || f->height == 0 || f->width > 64 || f->height > 64)
        return PSF_E_HEADER;
    f->row_bytes = (f->width + 7) / 8;
    if (f->glyph_bytes != f->row_bytes * f->height)
        return PSF_E_HEADER;
    if (f->count == 0 || (uint64_t)f->count * f->glyph_bytes > len - header)
        return PSF_E_GLYPHS;
    f->glyphs = b + header;
    if (flags & PSF2_HAS_UNICODE_TABLE)
        psf2_table(f, f->glyphs + (size_t)f->count * f->glyph_bytes, b + len);
    return PSF_OK;
}

int psf_load(struct psf_font *f, const void *blob, size_t len)
{
    const uint8_t *b = blob;
    int err;

    for (unsigned i = 0; i < 128; i++)
        f->ascii[i] = NO_GLYPH;
    f->glyphs = NULL;
    if (!b || len < 4)
        return PSF_E_SHORT;
    if (b[0] == 0x36 && b[1] == 0x04)
        err = psf1_load(f, b, len);
    else if (b[0] == 0x72 && b[1] == 0xb5 && b[2] == 0x4a && b[3] == 0x86)
        err = psf2_load(f, b, len);
    else
        err = PSF_E_MAGIC;
    if (err) {
        f->glyphs = NULL;
        return err;
    }
    /* No table (or an entry missing): the glyph index is the code. */
    for (uint32_t i = 0; i < 128; i++)
        if (f->ascii[i] == NO_GLYPH && i < f->count)
            f->ascii[i] = (uint16_t)i;
    return PSF_OK;
}

const char *psf_strerror(int err)
{
    switch (err) {
    case PSF_OK: return "ok";
    case PSF_E_SHORT: return "truncated";
    case PSF_E_MAGIC: return "not a PSF font";
    case PSF_E_HEADER: return "inconsistent header";
    case PSF_E_GLYPHS: return "glyphs missing";
    default: return "unknown error";
    }
}

const uint8_t *psf_glyph(const struct psf_font *f, uint32_t cp)
{
    uint32_t g = cp < 128 ? f->ascii[cp] : NO_GLYPH;

    if (g == NO_GLYPH)
        g = f->ascii['?'];
    if (g == NO_GLYPH || g >= f->count)
        g = 0;
    return f->glyphs + (size_t)g * f->glyph_bytes;
}
