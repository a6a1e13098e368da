/*
 * EDID (VESA E-EDID 1.3/1.4) base block: the one thing a display driver
 * needs from it, the preferred mode. A pure function of 128 bytes that the
 * caller copied out of device memory first (the device may change its
 * copy at any time): nothing here reads memory twice that the device can
 * write, and nothing depends on anything but the bytes given.
 */
#ifndef LVIO_EDID_H
#define LVIO_EDID_H

#include <stdbool.h>
#include <stdint.h>

#define LVIO_EDID_BLOCK_SIZE 128u

/*
 * The preferred mode of `block` (LVIO_EDID_BLOCK_SIZE bytes): the active
 * width and height of its first detailed timing descriptor, which EDID 1.3
 * and later make the preferred timing. Returns true with *width and
 * *height set (1..4095 each); false when the block is not a valid EDID 1.x
 * base block (header, version, checksum) or its first descriptor is not a
 * timing, and then *why (when `why` is not NULL) says which, in a few
 * words.
 */
bool lvio_edid_preferred_mode(const uint8_t *block, uint32_t *width, uint32_t *height,
                              const char **why);

#endif
