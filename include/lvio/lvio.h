/* Everything in one include. */
#ifndef LVIO_LVIO_H
#define LVIO_LVIO_H

#include "error.h"
#include "hal.h"
#include "virtio.h"
#include "virtqueue.h"
#include "request.h"
#include "mmio.h"
#include "pci.h"
#include "rng.h"
#include "gpu.h"
#include "gpu3d.h"
#include "blk.h"
#include "input.h"
#include "console.h"
#include "net.h"
#include "edid.h"

#endif
