/*
 * A US keyboard layout (keymap.c): Linux input key codes, as virtio-input
 * reports them (EV_KEY), to the characters the shell takes, with Shift,
 * Caps Lock and Ctrl. Pure: no device, no output; host-tested.
 */
#ifndef KERNEL_KEYMAP_H
#define KERNEL_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

struct keymap {
    bool left_shift, right_shift, left_ctrl, right_ctrl;
    bool caps_lock; /* toggled by each Caps Lock press */
};

/*
 * One EV_KEY event: `code` a key code, `value` 1 pressed, 0 released, 2 held
 * (auto-repeat). Returns the character it types (Enter '\r', Backspace
 * 0x7f, Tab '\t', Escape 0x1b, Ctrl+letter its control code: Ctrl-C 3), or
 * -1 when it types none (a release, a modifier, a key without a character).
 * *caps_changed is set when Caps Lock toggled (its LED should follow).
 */
int keymap_key(struct keymap *km, uint16_t code, int32_t value, bool *caps_changed);

#endif
