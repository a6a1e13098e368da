/* A US keyboard layout (keymap.h). */
#include "keymap.h"

/* Key codes (Linux input-event-codes, as virtio-input uses them). */
enum {
    KEY_ESC = 1, KEY_BACKSPACE = 14, KEY_TAB = 15, KEY_ENTER = 28, KEY_LEFTCTRL = 29,
    KEY_LEFTSHIFT = 42, KEY_RIGHTSHIFT = 54, KEY_SPACE = 57, KEY_CAPSLOCK = 58,
    KEY_KPENTER = 96, KEY_RIGHTCTRL = 97,
};

/* Unshifted and shifted characters of the codes 0..57 that type one; 0:
 * none. Letters are lower case here; Shift and Caps Lock decide. */
static const char plain[58] = {
    [2] = '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=',
    [16] = 'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']',
    [30] = 'a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`',
    [43] = '\\', 'z', 'x', 'c', 'v', 'b', 'n', 'm', ',', '.', '/',
    [55] = '*', [57] = ' ',
};
static const char shifted[58] = {
    [2] = '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+',
    [16] = 'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}',
    [30] = 'A', 'S', 'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~',
    [43] = '|', 'Z', 'X', 'C', 'V', 'B', 'N', 'M', '<', '>', '?',
    [55] = '*', [57] = ' ',
};

int keymap_key(struct keymap *km, uint16_t code, int32_t value, bool *caps_changed)
{
    bool down = value != 0;

    *caps_changed = false;
    switch (code) {
    case KEY_LEFTSHIFT: km->left_shift = down; return -1;
    case KEY_RIGHTSHIFT: km->right_shift = down; return -1;
    case KEY_LEFTCTRL: km->left_ctrl = down; return -1;
    case KEY_RIGHTCTRL: km->right_ctrl = down; return -1;
    case KEY_CAPSLOCK:
        if (value == 1) {
            km->caps_lock = !km->caps_lock;
            *caps_changed = true;
        }
        return -1;
    default:
        break;
    }
    if (!down)
        return -1;
    switch (code) {
    case KEY_ENTER:
    case KEY_KPENTER: return '\r';
    case KEY_BACKSPACE: return 0x7f;
    case KEY_TAB: return '\t';
    case KEY_ESC: return 0x1b;
    default: break;
    }
    if (code >= sizeof plain || !plain[code])
        return -1;

    char c = plain[code];
    bool letter = c >= 'a' && c <= 'z';
    bool shift = km->left_shift || km->right_shift;

    if (km->left_ctrl || km->right_ctrl)
        return letter ? c - 'a' + 1 : -1;
    if (letter)
        return shift != km->caps_lock ? shifted[code] : c;
    return shift ? shifted[code] : c;
}
