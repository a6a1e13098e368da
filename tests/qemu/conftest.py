"""pytest glue for the QEMU boot tests.

Fixtures:
  boot    boot(devices, timeout=..., **kw) -> BootResult; QEMU must power off by itself
  qemu    qemu(devices, **kw) -> a started Qemu (for QMP / kernels that stay up); killed after
  screen  screen(devices, dumps=(None,)) -> qemu.Screen: boots without poweroff, waits for
          the verdict, takes PNG screendumps and quits; one boot per configuration per module
  kernel_image  the image path (fails with "run make ARCH=<arch> first" if missing)
  xvfb    the session's X server in memory (qemu.Xvfb), started when a test first asks
          for it and stopped at the end: boot(devices, gl=xvfb) runs QEMU with
          -display gtk,gl=on on it, which virtio-gpu-gl-* devices need

Every run's command line, serial output and QEMU stderr are attached to a
failing test's report ("serial log" sections), so a failure shows what the
kernel said.

Architectures: env LVIO_ARCH (default aarch64) picks the kernel and QEMU.
A test runs on the architectures its `arch` marker names
(`pytest.mark.arch("aarch64", "riscv64")`, also as a module's pytestmark);
an unmarked test is aarch64's only. The others are deselected, so
`LVIO_ARCH=riscv64 /usr/bin/python3 -m pytest tests/qemu -q` runs the
riscv64 subset.

The kernel is interrupt-driven, so on aarch64 every test that boots through
`boot` or `qemu` runs on both interrupt controllers of QEMU's virt machine:
GICv2 (the default; PCI MSI-X through its v2m frame) and GICv3
(`gic-version=3`; PCI MSI-X through the ITS). Test ids end in [gicv2] /
[gicv3]. A test that picks its own machine (`machine=`) is marked `one_gic`
and runs once. The `screen` tests (pixels through QMP) boot the default
only. riscv64's virt has one controller (the PLIC): one run each. On x86_64 the
default machine is q35 (PCI only); a boot with virtio-mmio devices
(virtio-*-device) goes to microvm instead (qemu.FACTS["mmio_machine"]).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu as lq  # noqa: E402


def pytest_addoption(parser):
    g = parser.getgroup("levitate QEMU tests")
    g.addoption("--kernel", default=os.environ.get("LVIO_KERNEL", str(lq.DEFAULT_IMAGE)),
                help="kernel image to boot (default build/<arch>/<image> of env LVIO_ARCH, aarch64; env LVIO_KERNEL)")
    g.addoption("--qemu-timeout-scale", type=float,
                default=float(os.environ.get("LVIO_QEMU_TIMEOUT_SCALE", "1")),
                help="multiply every QEMU timeout (slow machines; env LVIO_QEMU_TIMEOUT_SCALE)")


def pytest_report_header(config):
    img = Path(config.getoption("--kernel"))
    state = "present" if img.is_file() else f"MISSING: {lq.NOT_BUILT}"
    return f"levitate kernel: {img} ({state})"


def pytest_collection_finish(session):
    """No kernel image: stop at once with one clear message (not one error per test)."""
    cfg = session.config
    if cfg.option.collectonly or not session.items:
        return
    img = Path(cfg.getoption("--kernel"))
    if not img.is_file():
        pytest.exit(f"kernel image {img} not found: {lq.NOT_BUILT}", returncode=1)


@pytest.fixture(scope="session")
def kernel_image(pytestconfig) -> Path:
    img = Path(pytestconfig.getoption("--kernel"))
    if not img.is_file():
        pytest.fail(f"kernel image {img} not found: {lq.NOT_BUILT}", pytrace=False)
    import shutil
    if shutil.which(lq.qemu_binary()) is None:
        pytest.fail(f"{lq.qemu_binary()} not found: run scripts/deps.sh qemu", pytrace=False)
    return img


@pytest.fixture(scope="session")
def xvfb():
    """One Xvfb for the whole session (its own display number and cookie)."""
    x = lq.Xvfb()
    try:
        x.start()
    except (FileNotFoundError, RuntimeError) as e:
        pytest.fail(str(e), pytrace=False)
    yield x
    x.stop()


@pytest.fixture
def timeout_scale(pytestconfig) -> float:
    return pytestconfig.getoption("--qemu-timeout-scale")


# The interrupt controllers a boot is repeated on (-M virt,<option>).
GICS = {"gicv2": "", "gicv3": "gic-version=3"} if lq.ARCH == "aarch64" else {}


def pytest_configure(config):
    config.addinivalue_line("markers", "one_gic: sets its own machine; not repeated per GIC")
    config.addinivalue_line("markers", "arch(*names): the architectures (LVIO_ARCH) the test "
                            "runs on; unmarked: aarch64 only")


def _archs_of(item) -> tuple:
    m = item.get_closest_marker("arch")
    return m.args if m else ("aarch64",)


def pytest_collection_modifyitems(config, items):
    """Deselect the tests that are not for this architecture."""
    drop = [it for it in items if lq.ARCH not in _archs_of(it)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [it for it in items if lq.ARCH in _archs_of(it)]


def pytest_generate_tests(metafunc):
    if GICS and "gic" in metafunc.fixturenames and \
            not metafunc.definition.get_closest_marker("one_gic"):
        metafunc.parametrize("gic", list(GICS), indirect=True)


@pytest.fixture
def gic(request) -> str:
    return getattr(request, "param", "gicv2" if GICS else "")


def _machine(gic: str) -> str:
    extra = GICS.get(gic, "")
    return lq.QEMU_MACHINE + ("," + extra if extra else "")


def _is_mmio_device(arg) -> bool:
    return str(arg).startswith("virtio-") and str(arg).split(",")[0].endswith("-device")


def _machine_for(devices, gic: str) -> str:
    """The machine for these devices: x86_64's q35 has no virtio-mmio, so a boot
    with a virtio-*-device goes to microvm (FACTS["mmio_machine"]) there."""
    mm = lq.FACTS.get("mmio_machine")
    if mm and any(_is_mmio_device(a) for a in devices):
        return mm
    return _machine(gic)


@pytest.fixture
def machine(gic) -> str:
    """The -M value this test's boots use (e.g. to dump the same DTB)."""
    return _machine(gic)


def _keep(request, result) -> None:  # a BootResult or a Qemu
    request.node.__dict__.setdefault("_lvio_runs", []).append(result)


@pytest.fixture
def boot(request, kernel_image, timeout_scale, gic):
    def _boot(devices=(), *, timeout=lq.DEFAULT_TIMEOUT, **kw) -> lq.BootResult:
        __tracebackhide__ = True
        kw.setdefault("machine", _machine_for(devices, gic))
        return lq.boot(devices, image=kernel_image, timeout=timeout * timeout_scale,
                       on_result=lambda r: _keep(request, r), **kw)
    return _boot


@pytest.fixture
def qemu(request, kernel_image, timeout_scale, gic):
    started: list[lq.Qemu] = []

    def _qemu(devices=(), *, timeout=lq.DEFAULT_TIMEOUT, **kw) -> lq.Qemu:
        kw.setdefault("machine", _machine_for(devices, gic))
        q = lq.Qemu(devices, image=kernel_image, timeout=timeout * timeout_scale, **kw)
        started.append(q)
        _keep(request, q)  # its log is read when the report is made
        return q.start()

    yield _qemu
    for q in started:
        q.kill()


@pytest.fixture(scope="module")
def screens(pytestconfig, kernel_image) -> lq.ScreenCache:
    return lq.ScreenCache(kernel_image, pytestconfig.getoption("--qemu-timeout-scale"))


@pytest.fixture
def screen(request, screens):
    """screen(devices, dumps=...) -> Screen, booting only the first time.

    The boot's log goes to the report of every test that fails on it.
    """
    def _screen(devices, **kw) -> lq.Screen:
        if lq.FACTS.get("mmio_machine") and any(_is_mmio_device(a) for a in devices):
            kw.setdefault("machine", lq.FACTS["mmio_machine"])
        s = screens.get(list(devices), **kw)
        _keep(request, s.result)
        return s
    return _screen


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    runs = [r.result() if isinstance(r, lq.Qemu) else r
            for r in item.__dict__.get("_lvio_runs", [])]
    shown = str(rep.longrepr)
    for i, r in enumerate(runs, 1):
        if f"$ {r.command_line}" in shown:
            continue  # the failure message already carries this run's log
        name = "serial log" if len(runs) == 1 else f"serial log {i}/{len(runs)}"
        rep.sections.append((name, r.log()))
