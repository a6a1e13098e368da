/*
 * virtio-input wire format (VIRTIO 1.2, 5.8): the configuration select
 * protocol, the event both queues carry, and the evdev numbers (Linux's
 * input-event-codes.h, which the specification defers to) the driver and
 * its users need.
 *
 * Byte order: every field is little-endian on every transport. The device
 * has no legacy interface of its own and the specification says the event
 * is little-endian "whereas evdev uses native order"; QEMU's model lays out
 * its configuration and events little-endian on legacy MMIO too. The
 * driver therefore reads the configuration as bytes and decodes them
 * itself, never through the guest-order conversion of a legacy device.
 * Only wire facts here; the driver is src/drivers/input.c.
 */
#ifndef LVIO_SPEC_VIRTIO_INPUT_H
#define LVIO_SPEC_VIRTIO_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Virtqueues (5.8.2). */
#define LVIO_VIRTIO_INPUT_EVENTQ  0 /* device -> driver: input events */
#define LVIO_VIRTIO_INPUT_STATUSQ 1 /* driver -> device: LED state and the like */

/* What `select` asks for (5.8.4); `subsel` as each says. */
#define LVIO_VIRTIO_INPUT_CFG_UNSET     0x00
#define LVIO_VIRTIO_INPUT_CFG_ID_NAME   0x01 /* subsel 0: u.string */
#define LVIO_VIRTIO_INPUT_CFG_ID_SERIAL 0x02 /* subsel 0: u.string */
#define LVIO_VIRTIO_INPUT_CFG_ID_DEVIDS 0x03 /* subsel 0: u.ids */
#define LVIO_VIRTIO_INPUT_CFG_PROP_BITS 0x10 /* subsel 0: u.bitmap of INPUT_PROP_* */
#define LVIO_VIRTIO_INPUT_CFG_EV_BITS   0x11 /* subsel EV_*: u.bitmap of its codes */
#define LVIO_VIRTIO_INPUT_CFG_ABS_INFO  0x12 /* subsel ABS_*: u.abs */

/* Bytes of the configuration's union: the most `size` may say. */
#define LVIO_VIRTIO_INPUT_CFG_DATA 128

struct lvio_virtio_input_absinfo {
    lvio_le32 min;
    lvio_le32 max;
    lvio_le32 fuzz;
    lvio_le32 flat;
    lvio_le32 res;
};

struct lvio_virtio_input_devids {
    lvio_le16 bustype;
    lvio_le16 vendor;
    lvio_le16 product;
    lvio_le16 version;
};

/* The device configuration: the driver writes select and subsel (and
 * nothing else, 5.8.5.1), then reads size and as many bytes of u. Strings
 * carry no NUL terminator of their own (size says how long). */
struct lvio_virtio_input_config {
    uint8_t select;
    uint8_t subsel;
    uint8_t size;
    uint8_t reserved[5];
    union {
        char string[LVIO_VIRTIO_INPUT_CFG_DATA];
        uint8_t bitmap[LVIO_VIRTIO_INPUT_CFG_DATA];
        struct lvio_virtio_input_absinfo abs;
        struct lvio_virtio_input_devids ids;
    } u;
};

_Static_assert(sizeof(struct lvio_virtio_input_absinfo) == 20, "virtio_input_absinfo");
_Static_assert(sizeof(struct lvio_virtio_input_devids) == 8, "virtio_input_devids");
_Static_assert(sizeof(struct lvio_virtio_input_config) == 136, "virtio_input_config");
_Static_assert(offsetof(struct lvio_virtio_input_config, size) == 2, "virtio_input_config.size");
_Static_assert(offsetof(struct lvio_virtio_input_config, u) == 8, "virtio_input_config.u");

/* One event, on either queue (5.8.6): evdev's type, code and value. */
struct lvio_virtio_input_event {
    lvio_le16 type;
    lvio_le16 code;
    lvio_le32 value;
};

_Static_assert(sizeof(struct lvio_virtio_input_event) == 8, "virtio_input_event");

/* ---- evdev numbers (Linux include/uapi/linux/input-event-codes.h) ---------- */

/* Event types; EV_MAX is the last a bitmap of types can name. */
#define LVIO_EV_SYN 0x00
#define LVIO_EV_KEY 0x01
#define LVIO_EV_REL 0x02
#define LVIO_EV_ABS 0x03
#define LVIO_EV_MSC 0x04
#define LVIO_EV_SW  0x05
#define LVIO_EV_LED 0x11
#define LVIO_EV_SND 0x12
#define LVIO_EV_REP 0x14
#define LVIO_EV_FF  0x15
#define LVIO_EV_MAX 0x1f

/* EV_SYN codes. */
#define LVIO_SYN_REPORT  0
#define LVIO_SYN_DROPPED 3

/* EV_REL axes. */
#define LVIO_REL_X      0x00
#define LVIO_REL_Y      0x01
#define LVIO_REL_HWHEEL 0x06
#define LVIO_REL_WHEEL  0x08
#define LVIO_REL_MAX    0x0f

/* EV_ABS axes. */
#define LVIO_ABS_X   0x00
#define LVIO_ABS_Y   0x01
#define LVIO_ABS_MAX 0x3f

/* EV_LED codes. */
#define LVIO_LED_NUML    0x00
#define LVIO_LED_CAPSL   0x01
#define LVIO_LED_SCROLLL 0x02
#define LVIO_LED_MAX     0x0f

/* EV_KEY codes: buttons (a pointer's keys: BTN_MISC and above). */
#define LVIO_BTN_MISC   0x100
#define LVIO_BTN_LEFT   0x110
#define LVIO_BTN_RIGHT  0x111
#define LVIO_BTN_MIDDLE 0x112
#define LVIO_BTN_SIDE   0x113
#define LVIO_BTN_EXTRA  0x114
#define LVIO_BTN_TOUCH  0x14a

/* EV_KEY codes: the keyboard's main block, locks and arrows. */
#define LVIO_KEY_ESC        1
#define LVIO_KEY_1          2
#define LVIO_KEY_2          3
#define LVIO_KEY_3          4
#define LVIO_KEY_4          5
#define LVIO_KEY_5          6
#define LVIO_KEY_6          7
#define LVIO_KEY_7          8
#define LVIO_KEY_8          9
#define LVIO_KEY_9          10
#define LVIO_KEY_0          11
#define LVIO_KEY_MINUS      12
#define LVIO_KEY_EQUAL      13
#define LVIO_KEY_BACKSPACE  14
#define LVIO_KEY_TAB        15
#define LVIO_KEY_Q          16
#define LVIO_KEY_W          17
#define LVIO_KEY_E          18
#define LVIO_KEY_R          19
#define LVIO_KEY_T          20
#define LVIO_KEY_Y          21
#define LVIO_KEY_U          22
#define LVIO_KEY_I          23
#define LVIO_KEY_O          24
#define LVIO_KEY_P          25
#define LVIO_KEY_LEFTBRACE  26
#define LVIO_KEY_RIGHTBRACE 27
#define LVIO_KEY_ENTER      28
#define LVIO_KEY_LEFTCTRL   29
#define LVIO_KEY_A          30
#define LVIO_KEY_S          31
#define LVIO_KEY_D          32
#define LVIO_KEY_F          33
#define LVIO_KEY_G          34
#define LVIO_KEY_H          35
#define LVIO_KEY_J          36
#define LVIO_KEY_K          37
#define LVIO_KEY_L          38
#define LVIO_KEY_SEMICOLON  39
#define LVIO_KEY_APOSTROPHE 40
#define LVIO_KEY_GRAVE      41
#define LVIO_KEY_LEFTSHIFT  42
#define LVIO_KEY_BACKSLASH  43
#define LVIO_KEY_Z          44
#define LVIO_KEY_X          45
#define LVIO_KEY_C          46
#define LVIO_KEY_V          47
#define LVIO_KEY_B          48
#define LVIO_KEY_N          49
#define LVIO_KEY_M          50
#define LVIO_KEY_COMMA      51
#define LVIO_KEY_DOT        52
#define LVIO_KEY_SLASH      53
#define LVIO_KEY_RIGHTSHIFT 54
#define LVIO_KEY_KPASTERISK 55
#define LVIO_KEY_LEFTALT    56
#define LVIO_KEY_SPACE      57
#define LVIO_KEY_CAPSLOCK   58
#define LVIO_KEY_NUMLOCK    69
#define LVIO_KEY_SCROLLLOCK 70
#define LVIO_KEY_RIGHTCTRL  97
#define LVIO_KEY_RIGHTALT   100
#define LVIO_KEY_HOME       102
#define LVIO_KEY_UP         103
#define LVIO_KEY_PAGEUP     104
#define LVIO_KEY_LEFT       105
#define LVIO_KEY_RIGHT      106
#define LVIO_KEY_END        107
#define LVIO_KEY_DOWN       108
#define LVIO_KEY_PAGEDOWN   109
#define LVIO_KEY_INSERT     110
#define LVIO_KEY_DELETE     111

#endif
