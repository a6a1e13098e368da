/* The preferred mode of an EDID base block (include/lvio/edid.h). */
#include "lvio/config.h"
#if LVIO_WITH_GPU /* else left out: lvio/config.h */

#include "lvio/edid.h"
#include "../core/internal.h"

/* Byte offsets in the base block (VESA E-EDID 1.4, section 3). */
#define EDID_VERSION 18
#define EDID_FIRST_DESCRIPTOR 54

static bool edid_no(const char **why, const char *what)
{
    if (why)
        *why = what;
    return false;
}

bool lvio_edid_preferred_mode(const uint8_t *e, uint32_t *width, uint32_t *height,
                              const char **why)
{
    static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    uint8_t sum = 0;

    if (!e || !width || !height)
        return edid_no(why, "no block");
    if (memcmp(e, header, sizeof header) != 0)
        return edid_no(why, "no EDID header");
    if (e[EDID_VERSION] != 1)
        return edid_no(why, "not EDID version 1");
    for (unsigned i = 0; i < LVIO_EDID_BLOCK_SIZE; i++)
        sum = (uint8_t)(sum + e[i]);
    if (sum != 0)
        return edid_no(why, "checksum does not add up");
    /* A detailed timing descriptor starts with a non-zero pixel clock; a
     * display descriptor (name, limits) with a zero one. */
    const uint8_t *d = e + EDID_FIRST_DESCRIPTOR;
    if ((d[0] | d[1]) == 0)
        return edid_no(why, "first descriptor is not a timing");
    uint32_t w = d[2] | ((uint32_t)(d[4] & 0xf0) << 4);
    uint32_t h = d[5] | ((uint32_t)(d[7] & 0xf0) << 4);
    if (w == 0 || h == 0)
        return edid_no(why, "preferred timing has no active area");
    *width = w;
    *height = h;
    return true;
}

#else
typedef int lvio_gpu_edid_left_out; /* ISO C wants a declaration */
#endif
