"""``bench_cpu``: the CPU a process tree spent between two samples, from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crowdquake.cli.bench_cpu import TICKS_PER_S, CpuMeter

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc")

SPIN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"


def test_counts_a_child_that_burns_cpu_and_no_foreign_backend() -> None:
    meter = CpuMeter(os.getpid(), "no_such_database_here")
    assert meter.available()
    before = meter.sample()
    child = subprocess.Popen([sys.executable, "-c", SPIN + "input()"], stdin=subprocess.PIPE)
    try:
        # The child is alive (a descendant) when the second sample is taken.
        while True:
            after = meter.sample()
            if after[0].ticks.get(child.pid, 0) >= 0.35 * TICKS_PER_S:
                break
        spent = meter.spent(before, after)
    finally:
        child.communicate(b"\n", timeout=30)
    assert spent.web_s >= 0.35
    assert spent.database_s == 0.0
