/* Names and descriptions of enum lvio_error. */
#include "internal.h"

struct lvio_error_text {
    int err;
    const char *name;
    const char *text;
};

static const struct lvio_error_text lvio_errors[] = {
    {LVIO_OK, "LVIO_OK", "success"},
    {LVIO_E_INVAL, "LVIO_E_INVAL", "invalid argument"},
    {LVIO_E_NOT_VIRTIO, "LVIO_E_NOT_VIRTIO", "no virtio device signature"},
    {LVIO_E_NODEV, "LVIO_E_NODEV", "no device behind the transport"},
    {LVIO_E_UNSUPPORTED, "LVIO_E_UNSUPPORTED", "not supported by this driver"},
    {LVIO_E_NOMEM, "LVIO_E_NOMEM", "out of DMA memory"},
    {LVIO_E_TIMEOUT, "LVIO_E_TIMEOUT", "device did not answer in time"},
    {LVIO_E_FEATURES, "LVIO_E_FEATURES", "device refused the features"},
    {LVIO_E_NEEDS_RESET, "LVIO_E_NEEDS_RESET", "device needs a reset"},
    {LVIO_E_BROKEN, "LVIO_E_BROKEN", "device broke the virtqueue rules"},
    {LVIO_E_NOSPC, "LVIO_E_NOSPC", "no free descriptors"},
    {LVIO_E_AGAIN, "LVIO_E_AGAIN", "nothing ready yet"},
    {LVIO_E_QUEUE, "LVIO_E_QUEUE", "virtqueue unavailable or not accepted"},
    {LVIO_E_RANGE, "LVIO_E_RANGE", "address out of the transport's range"},
    {LVIO_E_CONFIG, "LVIO_E_CONFIG", "device configuration unstable or invalid"},
    {LVIO_E_HAL, "LVIO_E_HAL", "HAL callback broke its contract"},
    {LVIO_E_STATE, "LVIO_E_STATE", "call not valid in this device state"},
    {LVIO_E_DEVICE, "LVIO_E_DEVICE", "device answered with invalid data"},
    {LVIO_E_REFUSED, "LVIO_E_REFUSED", "device reported an error for the request"},
    {LVIO_E_LAYOUT, "LVIO_E_LAYOUT", "transport registers not laid out usably"},
    {LVIO_E_DEAD, "LVIO_E_DEAD", "device never completed a reset; its memory is kept"},
    {LVIO_E_READ_ONLY, "LVIO_E_READ_ONLY", "device is read-only"},
};

static const struct lvio_error_text *lvio_error_find(int err)
{
    for (size_t i = 0; i < sizeof lvio_errors / sizeof lvio_errors[0]; i++)
        if (lvio_errors[i].err == err)
            return &lvio_errors[i];
    return NULL;
}

const char *lvio_errname(int err)
{
    const struct lvio_error_text *e = lvio_error_find(err);
    return e ? e->name : "LVIO_E_UNKNOWN";
}

const char *lvio_strerror(int err)
{
    const struct lvio_error_text *e = lvio_error_find(err);
    return e ? e->text : "unknown error";
}
