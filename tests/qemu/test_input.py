"""virtio-input under QEMU (docs/design.md: the `input` line and the shell):
QEMU's virtio-keyboard, virtio-mouse and virtio-tablet on MMIO v1 and v2 and
PCI (virtio-input is a VIRTIO 1.0 device: PCI is modern only), driven over
QMP with `send-key` and `input-send-event`.

- Each device's line: `lvio: input <t>@<a>: ok v<n>, "<name>", <kind>, …`,
  the tablet's with its axes' ranges (QEMU's are 0..32767).
- Typing: keys sent to the keyboard type a shell command; its answer comes
  on the serial line and the screen's console changes (by pixels).
- Shift, Caps Lock and Ctrl-C as a US keyboard has them.
- The tablet places the pointer (`cursor` answers the scaled position), the
  mouse moves it (clamped at the screen's edge), a button press is said
  where it happened.
- Two keyboards at once, each its own line buffer.
"""

from __future__ import annotations

import re
import time

import pytest
from PIL import Image, ImageChops

from qemu import MODERN_MMIO

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

# transport -> (QEMU arguments, device suffix, version)
TRANSPORTS = {
    "mmio-v1": ([], "device", 1),
    "mmio-v2": (MODERN_MMIO, "device", 2),
    "pci": ([], "pci", 1 + 1),
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))

W, H = 640, 480
ABS_MAX = 0x7FFF
PROMPT = "levitate> "
INPUT_RE = re.compile(r'^lvio: input (?P<where>\S+): ok v(?P<v>\d), "(?P<name>[^"]*)", '
                      r"(?P<kind>keyboard|mouse|tablet|other), (?P<rest>.*)$", re.M)

# Characters to QEMU key names (US layout): (qcode, shift)
QCODES = {" ": ("spc", False), "-": ("minus", False), ".": ("dot", False),
          "\r": ("ret", False), "_": ("minus", True), "!": ("1", True)}


def boot(qemu, transport, *devices, gpu=True):
    args, sfx, _ = TRANSPORTS[transport]
    devs = list(args)
    if gpu:
        devs += ["-device", f"virtio-gpu-{sfx},id=gpu0,xres={W},yres={H}"]
    for d in devices:
        devs += ["-device", d.format(sfx=sfx)]
    q = qemu(devs, append="", qmp=True, serial_input=True)
    q.wait_for(r"^levitate: PASS \d+ tests$")
    q.wait_for("^" + re.escape(PROMPT))
    return q


def lines(q) -> list[re.Match]:
    return list(INPUT_RE.finditer(q.serial))


def key(q, qcode: str, shift: bool = False, ctrl: bool = False, device=None) -> None:
    keys = ([{"type": "qcode", "data": "shift"}] if shift else []) + \
           ([{"type": "qcode", "data": "ctrl"}] if ctrl else []) + \
           [{"type": "qcode", "data": qcode}]
    args = {"keys": keys}
    q.qmp.execute("send-key", **args) if device is None else \
        q.qmp.execute("input-send-event", device=device[0], head=device[1],
                      events=[{"type": "key", "data": {"down": down, "key": k}}
                              for down in (True, False) for k in keys])


def type_text(q, text: str, device=None) -> None:
    for ch in text:
        if ch.isalnum():
            key(q, ch.lower(), shift=ch.isupper(), device=device)
        else:
            qcode, shift = QCODES[ch]
            key(q, qcode, shift=shift, device=device)


def pointer(q) -> tuple[int, int]:
    at = q.mark()
    q.send("cursor\r")
    m = q.wait_for(r"^cursor (\d+) (\d+)\n", since=at, timeout=30)  # whole: not "cursor 1 2" of "cursor 1 23"
    return int(m[1]), int(m[2])


def events(q, *evs) -> None:
    q.qmp.execute("input-send-event", events=list(evs))


def abs_event(axis: str, value: int) -> dict:
    return {"type": "abs", "data": {"axis": axis, "value": value}}


def rel_event(axis: str, value: int) -> dict:
    return {"type": "rel", "data": {"axis": axis, "value": value}}


def btn_event(button: str, down: bool) -> dict:
    return {"type": "btn", "data": {"button": button, "down": down}}


@transports
def test_lines(qemu, transport):
    q = boot(qemu, transport, "virtio-keyboard-{sfx}", "virtio-mouse-{sfx}",
             "virtio-tablet-{sfx}")
    found = {m["kind"]: m for m in lines(q)}
    assert set(found) == {"keyboard", "mouse", "tablet"}, q.serial
    version = TRANSPORTS[transport][2]
    for kind, m in found.items():
        assert int(m["v"]) == version, m[0]
        assert kind.capitalize() in m["name"], f"QEMU names it 'QEMU Virtio {kind}': {m[0]}"
        assert re.search(r"(irq \d+|msi-x \d+)$", m["rest"]), f"not interrupt-driven: {m[0]}"
    assert f"x 0..{ABS_MAX}, y 0..{ABS_MAX}" in found["tablet"]["rest"], found["tablet"][0]
    assert "leds on" in found["keyboard"]["rest"], found["keyboard"][0]


@transports
def test_typing(qemu, transport):
    """Keys typed on the keyboard run the shell: the answer on the serial
    line and the screen's console changed."""
    q = boot(qemu, transport, "virtio-keyboard-{sfx}")
    before = Image.open(q.screendump()).convert("RGB")
    at = q.mark()
    type_text(q, "echo typed on the keyboard\r")
    q.wait_for(r"^typed on the keyboard$", since=at, timeout=30)
    time.sleep(0.2)  # the console's present follows the line
    after = Image.open(q.screendump()).convert("RGB")
    console = (0, H * 2 // 3, W, H)
    diff = ImageChops.difference(before.crop(console), after.crop(console)).getbbox()
    assert diff is not None, "the screen's console did not change when typing"
    bars = (0, 0, W, H * 2 // 3 - 1)
    assert ImageChops.difference(before.crop(bars), after.crop(bars)).getbbox() is None, \
        "typing changed the test card's bars"


def test_shift_caps_ctrl(qemu):
    q = boot(qemu, "pci", "virtio-keyboard-{sfx}")
    at = q.mark()
    type_text(q, "echo Shift_1!\r")
    q.wait_for(r"^Shift_1!$", since=at, timeout=30)
    at = q.mark()
    key(q, "caps_lock")
    # Caps Lock on: letters come out upper case, and Shift gives lower case.
    for ch in "echo":
        key(q, ch, shift=True)
    type_text(q, " caps Lock\r")
    q.wait_for(r"^CAPS lOCK$", since=at, timeout=30)
    key(q, "caps_lock")
    at = q.mark()
    type_text(q, "echo lost")
    key(q, "c", ctrl=True)
    q.wait_for(r"\^C\n" + re.escape(PROMPT), since=at, timeout=30)
    type_text(q, "echo kept\r")
    q.wait_for(r"^kept$", since=at, timeout=30)
    assert not re.search(r"^lost$", q.serial[at:], re.M), "Ctrl-C did not abandon the line"


@transports
def test_tablet_and_mouse_move_the_cursor(qemu, transport):
    q = boot(qemu, transport, "virtio-tablet-{sfx}", "virtio-mouse-{sfx}")
    # (Where it starts is QEMU's to say: it may report a tablet position
    # when the screen appears.)
    for x, y in ((0, 0), (ABS_MAX, ABS_MAX), (8192, 24576)):
        events(q, abs_event("x", x), abs_event("y", y))
        want = (x * (W - 1) // ABS_MAX, y * (H - 1) // ABS_MAX)
        deadline = time.monotonic() + 10
        while pointer(q) != want and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pointer(q) == want, f"tablet at {x},{y}: cursor {pointer(q)}, want {want}"
    # The mouse moves it from there; far past the edge it stops at it.
    start = pointer(q)
    events(q, rel_event("x", 40), rel_event("y", -30))
    want = (start[0] + 40, start[1] - 30)
    deadline = time.monotonic() + 10
    while pointer(q) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pointer(q) == want
    events(q, rel_event("x", -5000), rel_event("y", 5000))
    deadline = time.monotonic() + 10
    while pointer(q) != (0, H - 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pointer(q) == (0, H - 1), "the mouse is not clamped to the screen"
    at = q.mark()
    events(q, btn_event("left", True))
    events(q, btn_event("left", False))
    q.wait_for(rf"^levitate: input \S+: left button at 0 {H - 1}$", since=at, timeout=30)


def test_two_keyboards(qemu):
    """Two keyboards, each bound to its own head of a two-output GPU: each
    types into a line of its own."""
    args, sfx, _ = TRANSPORTS["pci"]
    q = qemu(["-device", f"virtio-gpu-{sfx},id=gpu0,max_outputs=2,xres={W},yres={H}",
              "-device", f"virtio-keyboard-{sfx},display=gpu0,head=0",
              "-device", f"virtio-keyboard-{sfx},display=gpu0,head=1"],
             append="", qmp=True, serial_input=True)
    q.wait_for(r"^levitate: PASS \d+ tests$")
    assert [m["kind"] for m in lines(q)] == ["keyboard", "keyboard"], q.serial
    at = q.mark()
    # Interleaved: each keyboard's line stays its own.
    for a, b in zip("echo one", "echo two"):
        type_text(q, a, device=("gpu0", 0))
        type_text(q, b, device=("gpu0", 1))
    type_text(q, "\r", device=("gpu0", 0))
    type_text(q, "\r", device=("gpu0", 1))
    q.wait_for(r"^one$", since=at, timeout=30)
    q.wait_for(r"^two$", since=at, timeout=30)
