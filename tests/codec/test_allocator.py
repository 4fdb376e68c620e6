"""aec.allocator: glibc's malloc set for a coding process, in aec's own processes only."""

import ctypes
import subprocess
import sys

import pytest

from aec import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_glibc_takes_every_setting():
    try:
        ctypes.CDLL(None).mallopt
    except AttributeError:
        pytest.skip("a C library without mallopt (musl)")
    assert allocator.tune() is True


def test_without_mallopt_nothing_changes(monkeypatch):
    class NoMallopt:
        def __init__(self, name):
            pass

    monkeypatch.setattr(allocator.ctypes, "CDLL", NoMallopt)
    assert allocator.tune() is False
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.tune() is False


def test_the_command_line_tunes_its_process_and_importing_aec_does_not():
    probe = ("import sys, aec.allocator as a; calls = []; real = a.tune; "
             "a.tune = lambda: calls.append(1) or real(); import aec; {run}; print(len(calls))")
    imported = subprocess.run([sys.executable, "-c", probe.format(run="aec.Codec")], capture_output=True, text=True)
    assert imported.stdout.strip() == "0", imported.stderr
    command = probe.format(run="from aec.cli import main; main(['models'], standalone_mode=False)")
    ran = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True)
    assert ran.stdout.strip().splitlines()[-1] == "1", ran.stderr
