"""The shell on the serial line (docs/design.md, "The shell"), on every
architecture: booted without `poweroff`, the kernel prints `levitate> ` after
its verdict and answers what is typed on the serial line (QEMU's stdin).

Covered: help lists every command; echo prints its text as typed; devices
numbers what was found; rng gives as many random bytes as asked; cursor
gives the pointer's position (the screen's centre before anything moved
it); blk read shows a disk's bytes (a pattern disk's known words); dump
prints the library's dump; an unknown command and bad arguments are said so;
Backspace and Ctrl-C edit the line; poweroff powers off cleanly.
"""

from __future__ import annotations

import re
import struct
import sys

import pytest

from qemu import EXIT_OK

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

PATTERN_BASE = 0x6C76000000000000
PROMPT = "levitate> "


def pattern_disk(path, size=1 << 20):
    words = range(PATTERN_BASE, PATTERN_BASE + size, 8)
    path.write_bytes(b"".join(struct.pack("<Q", w) for w in words))
    return path


@pytest.fixture
def shell(qemu, tmp_path):
    """A booted kernel with an rng, a GPU and a pattern disk on PCI, at its
    first prompt; type(line) sends a line and returns what came back before
    the next prompt."""
    disk = pattern_disk(tmp_path / "pattern.img")
    q = qemu(["-device", "virtio-rng-pci", "-device", "virtio-gpu-pci,xres=640,yres=480",
              "-drive", f"if=none,id=p,file={disk},format=raw",
              "-device", "virtio-blk-pci,drive=p,serial=lvio-pattern"],
             append="", serial_input=True)
    q.wait_for(r"^levitate: PASS \d+ tests$")
    q.wait_for("^" + re.escape(PROMPT))

    def type_line(text: str, end: str = "\r") -> str:
        at = q.mark()
        q.send(text + end)
        m = q.wait_for(r"(?s)(.*?)^" + re.escape(PROMPT), since=at, timeout=30)
        return m[1]

    q.type_line = type_line
    return q


def answer(out: str, typed: str) -> list[str]:
    """The lines after the echoed command line."""
    lines = out.split("\n")
    assert lines[0].endswith(typed), f"the typed line was not echoed: {out!r}"
    return [ln for ln in lines[1:] if ln]


def test_commands(shell):
    out = answer(shell.type_line("help"), "help")
    names = {ln.split()[0] for ln in out}
    for cmd in ("help", "echo", "devices", "dump", "rng", "cursor", "poweroff", "blk"):
        assert cmd in names, f"help does not list {cmd}: {out}"

    assert answer(shell.type_line("echo hello   shell  world"), "world") == \
        ["hello   shell  world"]
    assert answer(shell.type_line("echo"), "echo") == []

    devs = answer(shell.type_line("devices"), "devices")
    kinds = [ln.split()[1] for ln in devs]
    assert sorted(kinds) == ["blk", "gpu", "rng"], devs
    for i, ln in enumerate(devs):
        assert re.match(rf"^{i} (rng|gpu|blk) pci@[0-9a-f:.]+ v\d, (irq \d+|msi-x \d+|polled)$",
                        ln), ln

    a, b = (answer(shell.type_line("rng 24"), "rng 24") for _ in range(2))
    assert len(a) == 1 and re.fullmatch(r"[0-9a-f]{48}", a[0]), a
    assert a != b, "two rng commands gave the same bytes"
    assert "usage" in answer(shell.type_line("rng 0"), "rng 0")[0]

    assert answer(shell.type_line("cursor"), "cursor") == ["cursor 320 240"]

    # Sector 1 of the pattern disk: the words PATTERN_BASE + 512, + 520, ...
    got = answer(shell.type_line("blk read 1 16"), "blk read 1 16")
    want = struct.pack("<QQ", PATTERN_BASE + 512, PATTERN_BASE + 520).hex(" ")
    assert len(got) == 1 and got[0].endswith(f"sector 1: {want}"), got

    dump = shell.type_line("dump rng")
    assert "rng" in dump and "queue" in dump.lower(), dump
    assert "no device" in answer(shell.type_line("dump nothing"), "dump nothing")[0]
    assert "unknown command" in answer(shell.type_line("frobnicate"), "frobnicate")[0]


def test_line_editing(shell):
    # Backspace (DEL, as terminals send it) takes back one character.
    out = shell.type_line("echo abX\x7fc")
    assert out.split("\n")[1] == "abc", out
    # Ctrl-C abandons the line: nothing runs, a new prompt comes.
    at = shell.mark()
    shell.send("echo never\x03")
    shell.wait_for(r"\^C\n" + re.escape(PROMPT), since=at, timeout=30)
    assert answer(shell.type_line("echo after"), "after") == ["after"]
    assert "never" not in shell.serial[at:].replace("echo never", "")


def test_poweroff(shell):
    shell.send("poweroff\r")
    shell.wait_for(r"^powering off$", timeout=30)
    r = shell.wait(timeout=30)
    assert r.returncode == EXIT_OK, f"QEMU exited with {r.returncode}"
