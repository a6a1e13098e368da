"""virtio-gpu under real QEMU: the `lvio: gpu` line, and the test card by its pixels.

Every screen test boots the kernel without `poweroff` (it stays up), waits for
the verdict, takes a PNG `screendump` over QMP and quits. One boot serves all
the tests of one configuration (the `screen` cache below), so the matrix
{legacy, modern MMIO} x {1280x800, 1024x768, 803x601} costs six boots.

The card (DESIGN.md, kernel contract): rows 0 .. H*2/3-1 are eight vertical
bars, bar i covering x in [i*W/8, (i+1)*W/8) (integer division), white,
yellow, cyan, green, magenta, red, blue, black; rows H*2/3 .. H-1 are the text
console, light text on 0x101820. The hardware cursor is a separate plane that
QEMU's screendump does not include: it is not tested here.

QEMU 7.2 facts these tests rely on:
  - with `-display none` only scanout 0 is enabled, whatever max_outputs says
    (other heads are enabled by a UI that reports a window size);
  - `virtio-gpu-device,max_hostmem=1000000` makes RESOURCE_CREATE_2D of a
    1280x800 framebuffer fail with ERR_OUT_OF_MEMORY.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import qemu as lq
from qemu import (MMIO_STRIDE, MMIO_TOP, MODERN_MMIO, VERDICT_RE, BootResult, BootTimeout,
                  GpuDetail, LvioLine, QMPError, load_png, parse_gpu, parse_rng)

RNG = ["-device", "virtio-rng-device"]

# transport id -> (QEMU args, version the kernel must report)
TRANSPORTS = {
    "legacy": ([], 1),
    "modern": (MODERN_MMIO, 2),
}
# resolution id -> (virtio-gpu-device properties, size the kernel must report)
RESOLUTIONS = {
    "default": ("", (1280, 800)),      # QEMU's default xres/yres
    "1024x768": (",xres=1024,yres=768", (1024, 768)),
    "803x601": (",xres=803,yres=601", (803, 601)),  # odd: W/8 and H*2/3 do not divide
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))
matrix = pytest.mark.parametrize(
    "transport,res", [(t, r) for t in TRANSPORTS for r in RESOLUTIONS])

BARS = [
    ("white", 0xFFFFFF), ("yellow", 0xFFFF00), ("cyan", 0x00FFFF), ("green", 0x00FF00),
    ("magenta", 0xFF00FF), ("red", 0xFF0000), ("blue", 0x0000FF), ("black", 0x000000),
]
CONSOLE_BG = 0x101820


def rgb(c: int) -> tuple[int, int, int]:
    return (c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF


def hexrgb(p) -> str:
    return "%02x%02x%02x" % tuple(p[:3])


def gpu_device(props: str = "") -> list[str]:
    return ["-device", "virtio-gpu-device" + props]


# ---------------------------------------------------------------------------
# One boot per configuration, shared by the tests that look at it


@dataclass
class Screen:
    result: BootResult
    image: object | None  # PIL RGB image of scanout 0, None if no screendump was taken
    problem: str | None  # why there is no image (boot timed out, QMP failed, ...)


class ScreenCache:
    def __init__(self, image, scale):
        self.image = image
        self.scale = scale
        self.shots: dict[tuple, Screen] = {}

    def get(self, devices: list[str], timeout: float = 30) -> Screen:
        key = tuple(devices)
        if key not in self.shots:
            self.shots[key] = self._take(devices, timeout * self.scale)
        return self.shots[key]

    def _take(self, devices, timeout) -> Screen:
        q = lq.Qemu(devices, image=self.image, timeout=timeout, append="", qmp=True)
        img = problem = None
        try:
            q.start()
            q.wait_for(VERDICT_RE)
            img = load_png(q.screendump())  # decoded now: kill() removes the temp dir
            r = q.quit()
        except (BootTimeout, QMPError, OSError) as e:
            problem = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            q.kill()
            r = q.result()
        finally:
            q.kill()
        return Screen(r, img, problem)


@pytest.fixture(scope="module")
def screens(pytestconfig):
    from pathlib import Path

    image = Path(pytestconfig.getoption("--kernel"))
    if not image.is_file():
        pytest.fail(f"kernel image {image} not found: {lq.NOT_BUILT}", pytrace=False)
    return ScreenCache(image, pytestconfig.getoption("--qemu-timeout-scale"))


@pytest.fixture
def screen(request, screens):
    """screen(devices) -> Screen, booting only the first time; the log goes to the report."""
    def _screen(devices, **kw) -> Screen:
        s = screens.get(list(devices), **kw)
        request.node.__dict__.setdefault("_lvio_runs", []).append(s.result)
        return s
    return _screen


# ---------------------------------------------------------------------------
# Checks


def one_gpu_line(r: BootResult) -> LvioLine:
    lines = r.of("gpu")
    r.check(len(lines) == 1, f"expected one gpu line, got {len(lines)}: "
            + "; ".join(map(str, lines)))
    return lines[0]


def gpu_ok(r: BootResult, version: int, size: tuple[int, int] | None = None,
           edid: bool | None = True, address: int | None = MMIO_TOP) -> GpuDetail:
    """The gpu line says ok, vN, one enabled scanout 0 of `size`, edid on/off."""
    line = one_gpu_line(r)
    r.check(line.ok, f"gpu not ok: {line}")
    r.check(line.transport == "mmio", f"expected an mmio transport: {line}")
    if address is not None:
        r.check(line.addr == address, f"expected the gpu at {address:#010x}: {line}")
    d = parse_gpu(line.detail)
    r.check(d is not None,
            f"gpu detail does not look like 'v<N>, <n> scanout(s): <id> <W>x<H>, edid on|off': {line}")
    r.check(d.version == version, f"expected v{version}, got v{d.version}: {line}")
    r.check(d.count == 1 and list(d.scanouts) == [0],
            f"expected exactly scanout 0 enabled (QEMU with -display none): {line}")
    if size is not None:
        r.check(d.scanouts[0] == size, f"expected scanout 0 {size[0]}x{size[1]}: {line}")
    if edid is not None:
        r.check(d.edid is edid, f"expected 'edid {'on' if edid else 'off'}': {line}")
    return d


def passed(r: BootResult) -> None:
    """One PASS verdict, no panic, no error lines (QEMU was told to quit: no exit status)."""
    __tracebackhide__ = True
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    vs = r.verdicts
    r.check(len(vs) == 1, f"expected exactly one verdict line, got {len(vs)}")
    r.check(vs[0].passed and vs[0].total > 0, f"expected PASS: {vs[0].line}")
    r.check(not r.errors(), "unexpected error lines: " + "; ".join(map(str, r.errors())))


def screenshot(s: Screen):
    s.result.check(s.image is not None, f"no screendump: {s.problem}")
    return s.image


def bar_range(i: int, width: int) -> tuple[int, int]:
    return i * width // 8, (i + 1) * width // 8


def card_problems(img, width: int, height: int) -> list[str]:
    """Every way the top two thirds differ from the eight bars (empty: a perfect card)."""
    top = height * 2 // 3
    bad = []
    # Several points inside each bar, away from its edges...
    rows = [top * k // 8 for k in (1, 3, 5, 7)]
    for i, (name, color) in enumerate(BARS):
        x0, x1 = bar_range(i, width)
        for x in (x0 + (x1 - x0) * k // 8 for k in (2, 4, 6)):
            for y in rows:
                p = img.getpixel((x, y))
                if p != rgb(color):
                    bad.append(f"bar {i} ({name}) at ({x},{y}): {hexrgb(p)}, expected {color:06x}")
    # ...and the exact edges the contract gives: first and last column of each bar,
    # on the first, middle and last row of the card.
    for y in (0, top // 2, top - 1):
        for i, (name, color) in enumerate(BARS):
            x0, x1 = bar_range(i, width)
            for x in (x0, x1 - 1):
                p = img.getpixel((x, y))
                if p != rgb(color):
                    bad.append(f"bar {i} ({name}) edge ({x},{y}): {hexrgb(p)}, expected {color:06x}")
    return bad


def check_card(r: BootResult, img, size: tuple[int, int]) -> None:
    __tracebackhide__ = True
    r.check(img.size == size, f"screendump is {img.size[0]}x{img.size[1]}, expected {size[0]}x{size[1]}")
    bad = card_problems(img, *size)
    r.check(not bad, f"test card wrong at {len(bad)} points:\n  " + "\n  ".join(bad[:16]))


def colors(img, box) -> dict[tuple, int]:
    """rgb -> pixel count inside box (left, top, right, bottom)."""
    region = img.crop(box)
    return {c: n for n, c in region.getcolors(region.width * region.height)}


def bright(p) -> bool:
    return sum(p[:3]) >= 3 * 160


def console_stats(img, width: int, height: int):
    top = height * 2 // 3
    hist = colors(img, (0, top, width, height))
    total = width * (height - top)
    bg = hist.get(rgb(CONSOLE_BG), 0) / total
    light = sum(n for c, n in hist.items() if bright(c)) / total
    card_bg = colors(img, (0, 0, width, top)).get(rgb(CONSOLE_BG), 0)
    return bg, light, card_bg


def check_console(r: BootResult, img, size: tuple[int, int]) -> None:
    __tracebackhide__ = True
    bg, light, card_bg = console_stats(img, *size)
    w, h = size
    common = sorted(colors(img, (0, h * 2 // 3, w, h)).items(), key=lambda kv: -kv[1])[:4]
    seen = ", ".join(f"{hexrgb(c)} x{n}" for c, n in common)
    r.check(bg > 0.5, f"console area (bottom third) is only {bg:.1%} background "
            f"{CONSOLE_BG:06x}; most common colours: {seen}")
    r.check(light > 0.005, f"console area has only {light:.2%} bright pixels: no text? "
            f"(most common colours: {seen})")
    r.check(card_bg == 0,
            f"{card_bg} pixels of console background {CONSOLE_BG:06x} in the top two thirds")


# ---------------------------------------------------------------------------
# The matrix: transport x resolution


def matrix_screen(screen, transport, res):
    args, version = TRANSPORTS[transport]
    props, size = RESOLUTIONS[res]
    return screen(args + gpu_device(props)), version, size


@matrix
def test_gpu_line(screen, transport, res):
    """`lvio: gpu mmio@0x0a003e00: ok vN, 1 scanout: 0 WxH, edid on`, and PASS."""
    s, version, size = matrix_screen(screen, transport, res)
    r = s.result
    gpu_ok(r, version, size, edid=True)
    passed(r)


@matrix
def test_screendump_size_is_the_reported_mode(screen, transport, res):
    s, version, _ = matrix_screen(screen, transport, res)
    r = s.result
    img = screenshot(s)
    line = one_gpu_line(r)
    d = parse_gpu(line.detail)
    r.check(d is not None and 0 in d.scanouts, f"no scanout 0 size on the gpu line: {line}")
    w, h = d.scanouts[0]
    r.check(img.size == (w, h),
            f"screendump is {img.size[0]}x{img.size[1]}, the gpu line says {w}x{h}: {line}")


@matrix
def test_card(screen, transport, res):
    """The eight bars, exact RGB, several points per bar and the exact bar edges."""
    s, _, size = matrix_screen(screen, transport, res)
    check_card(s.result, screenshot(s), size)


@matrix
def test_console(screen, transport, res):
    """Bottom third: mostly 0x101820 with light text; no console colour above it."""
    s, _, size = matrix_screen(screen, transport, res)
    check_console(s.result, screenshot(s), size)


# ---------------------------------------------------------------------------
# EDID


@transports
def test_edid_off(screen, transport):
    """Without F_EDID the driver says `edid off` and still shows the card."""
    args, version = TRANSPORTS[transport]
    s = screen(args + gpu_device(",edid=off"))
    r = s.result
    gpu_ok(r, version, (1280, 800), edid=False)
    passed(r)
    check_card(r, screenshot(s), (1280, 800))


# ---------------------------------------------------------------------------
# With other devices


@transports
def test_gpu_between_two_rngs(screen, transport):
    """rng, gpu, rng on neighbouring slots: all three work, the card shows, PASS."""
    args, version = TRANSPORTS[transport]
    s = screen(args + RNG + gpu_device() + RNG)
    r = s.result
    passed(r)
    rngs = r.ok("rng")
    r.check(len(rngs) == 2 and len(r.of("rng")) == 2,
            f"expected two rng ok lines, got {len(rngs)} ok of {len(r.of('rng'))}")
    for ln in rngs:
        d = parse_rng(ln.detail)
        r.check(d is not None and d.version == version and any(d.data), f"bad rng line: {ln}")
    # QEMU fills slots from the top: rng 0x0a003e00, gpu 0x0a003c00, rng 0x0a003a00.
    gpu_ok(r, version, (1280, 800), address=MMIO_TOP - MMIO_STRIDE)
    r.check({ln.addr for ln in rngs} == {MMIO_TOP, MMIO_TOP - 2 * MMIO_STRIDE},
            "rngs not on the slots around the gpu: " + ", ".join(ln.address for ln in rngs))
    img = screenshot(s)
    check_card(r, img, (1280, 800))
    check_console(r, img, (1280, 800))


@transports
def test_gpu_out_of_host_memory(boot, transport):
    """The device refuses the framebuffer: a named error, the other devices unharmed.

    max_hostmem=1000000 is less than a 1280x800x4 resource, so QEMU answers
    RESOURCE_CREATE_2D with ERR_OUT_OF_MEMORY. The kernel must say so on the
    gpu line, still bring up the rng next to it, give its verdict (FAIL: a
    GPU error is a failed test) and power off.
    """
    args, version = TRANSPORTS[transport]
    r = boot(args + RNG + gpu_device(",max_hostmem=1000000") + RNG, timeout=30)
    r.check(not r.timed_out, "QEMU timed out")
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    line = one_gpu_line(r)
    r.check(not line.ok, f"expected a gpu error line: {line}")
    r.check(line.error == "ERR_OUT_OF_MEMORY", f"expected ERR_OUT_OF_MEMORY: {line}")
    r.check(line.addr == MMIO_TOP - MMIO_STRIDE, f"gpu error at the wrong address: {line}")
    r.check("1280x800" in line.detail, f"the error does not say what it was creating: {line}")
    rngs = r.ok("rng")
    r.check(len(rngs) == 2, f"expected both rngs ok next to the failed gpu, got {len(rngs)}")
    for ln in rngs:
        d = parse_rng(ln.detail)
        r.check(d is not None and d.version == version and any(d.data), f"bad rng line: {ln}")
    vs = r.verdicts
    r.check(len(vs) == 1, f"expected exactly one verdict line, got {len(vs)}")
    r.check(not vs[0].passed and vs[0].failed >= 1,
            f"a GPU that cannot make its framebuffer must fail a test: {vs[0].line}")
    r.check(r.returncode == 0, f"QEMU did not power off cleanly: exit status {r.returncode}")
