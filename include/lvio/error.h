/*
 * Error codes. Every library call that can fail returns one of these:
 * 0 is success, negative values are errors, and calls documented to return
 * a size return it as a non-negative value. The set is small on purpose;
 * the detail (which device, which queue, which index) goes into the
 * device's error message, see lvio_device_error().
 */
#ifndef LVIO_ERROR_H
#define LVIO_ERROR_H

enum lvio_error {
    LVIO_OK = 0,
    LVIO_E_INVAL = -1,        /* bad argument from the caller */
    LVIO_E_NOT_VIRTIO = -2,   /* no virtio magic at this address */
    LVIO_E_NODEV = -3,        /* transport present, no device behind it (ID 0) */
    LVIO_E_UNSUPPORTED = -4,  /* version, device type or feature we cannot drive */
    LVIO_E_NOMEM = -5,        /* the HAL could not provide DMA memory */
    LVIO_E_TIMEOUT = -6,      /* the device did not answer within the bound */
    LVIO_E_FEATURES = -7,     /* device refused our features (FEATURES_OK) */
    LVIO_E_NEEDS_RESET = -8,  /* device set DEVICE_NEEDS_RESET */
    LVIO_E_BROKEN = -9,       /* device broke the ring rules; queue unusable */
    LVIO_E_NOSPC = -10,       /* not enough free descriptors right now */
    LVIO_E_AGAIN = -11,       /* nothing ready yet (non-blocking call) */
    LVIO_E_QUEUE = -12,       /* queue missing, in use, or not accepted */
    LVIO_E_RANGE = -13,       /* address the transport cannot express */
    LVIO_E_CONFIG = -14,      /* config space unstable or invalid */
    LVIO_E_HAL = -15,         /* a HAL callback broke its contract */
    LVIO_E_STATE = -16,       /* call made in the wrong device state */
    LVIO_E_DEVICE = -17,      /* device answered with something invalid */
    LVIO_E_REFUSED = -18,     /* device answered a request with an error
                                 (the driver keeps its spec name, e.g.
                                 lvio_gpu_errname) */
    LVIO_E_LAYOUT = -19,      /* transport structures not where they can be
                                 used: a PCI capability outside its BAR, a
                                 BAR too small, an unknown layout */
    LVIO_E_DEAD = -20,        /* the device never completed a reset: it may
                                 still use memory it was given, which the
                                 library therefore keeps (never frees) */
    LVIO_E_READ_ONLY = -21,   /* a write to a device that is read-only,
                                 refused before it reached the device */
};

/* The enum constant's name, e.g. "LVIO_E_TIMEOUT"; never NULL. */
const char *lvio_errname(int err);

/* One short sentence describing the error; never NULL. */
const char *lvio_strerror(int err);

#endif
