/*
 * What is built: every driver, unless the kernel says otherwise. A driver
 * left out compiles to an empty object, so a build that takes every source
 * (a glob, an IDE project) still leaves its code out; lvio.mk and
 * lvio.cmake also drop its sources from their lists (LVIO_DRIVERS).
 *
 * To choose, either define the switches on the compiler's command line
 * (-DLVIO_WITH_GPU=0) or write them in a header of your own and name it:
 * -DLVIO_CONFIG_HEADER='"my_lvio_config.h"' (found on your include path,
 * included first). Each switch is 1 (built) or 0 (left out). The other
 * compile-time settings (LVIO_CLOCK_STALL_POLLS, LVIO_VQ_MAX_SIZE, ...) can
 * go in the same header.
 *
 * A driver's header stays usable either way; calling a left-out driver is a
 * link error, not a silent stub.
 */
#ifndef LVIO_CONFIG_H
#define LVIO_CONFIG_H

#ifdef LVIO_CONFIG_HEADER
/* cppcheck-suppress preprocessorErrorDirective ; the header is the user's */
#include LVIO_CONFIG_HEADER
#endif

#ifndef LVIO_WITH_RNG
#define LVIO_WITH_RNG 1  /* src/drivers/rng.c */
#endif
#ifndef LVIO_WITH_GPU
#define LVIO_WITH_GPU 1  /* src/drivers/gpu.c, gpu_fb.c, gpu_edid.c */
#endif
#ifndef LVIO_WITH_GPU3D
#define LVIO_WITH_GPU3D LVIO_WITH_GPU  /* src/drivers/gpu3d.c, gpu3d_submit.c, gpu3d_blob.c */
#endif
#if LVIO_WITH_GPU3D && !LVIO_WITH_GPU
#error "LVIO_WITH_GPU3D needs LVIO_WITH_GPU"
#endif
#ifndef LVIO_WITH_BLK
#define LVIO_WITH_BLK 1  /* src/drivers/blk.c */
#endif
#ifndef LVIO_WITH_INPUT
#define LVIO_WITH_INPUT 1  /* src/drivers/input.c */
#endif
#ifndef LVIO_WITH_CONSOLE
#define LVIO_WITH_CONSOLE 1  /* src/drivers/console.c */
#endif
#ifndef LVIO_WITH_NET
#define LVIO_WITH_NET 1  /* src/drivers/net.c */
#endif

#endif
