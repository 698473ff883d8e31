"""``crowdquake bench edge``: edge-model latency (one window, end to end) and batched throughput.

Each figure is measured twice: as wall time and as the CPU time of the calling thread
(``time.thread_time``; the interpreter runs with one thread, in the caller's). On a shared,
loaded machine the wall time mostly measures how long the process waits for a core; the CPU
time is what one window costs the phone's processor, and the targets are judged on it. Both
are printed with the load average so a re-run on a quiet machine can be compared.

Baseline measured in the same run: the scoring path without the network (normalisation only),
so the ratio shows what the interpreter itself costs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np


def _best_per_call_s(
    fn: Callable[[], object], repeats: int, rounds: int = 5
) -> tuple[float, float]:
    """Best mean (wall, thread CPU) seconds per call over ``rounds`` rounds (min filters noise)."""
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(repeats):
            fn()
        best_cpu = min(best_cpu, (time.thread_time() - c0) / repeats)
        best_wall = min(best_wall, (time.perf_counter() - w0) / repeats)
    return best_wall, best_cpu


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[1] * 1e3:.4f} ms CPU ({pair[0] * 1e3:.4f} ms wall)"


@click.command("edge")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None)
@click.option("--batch", default=4096, show_default=True, help="windows per batched call")
@click.option(
    "--repeats",
    default=2000,
    show_default=True,
    help="single-window calls per round (batched: 10x as many windows)",
)
def bench_edge(model_path: Path | None, batch: int, repeats: int) -> None:
    """One-window latency through EdgeModel.score and batched windows/s (CPU and wall time)."""
    from crowdquake.edge import EdgeModel, normalise_windows

    t0 = time.perf_counter()
    model = EdgeModel.load(model_path)
    load_s = time.perf_counter() - t0
    sc = model.sidecar
    rng = np.random.default_rng(0)
    one = rng.normal(0, 0.05, (1, len(sc.channel_order), sc.window_samples)).astype(np.float32)
    one[:, 2] += 9.81
    many = np.repeat(one, batch, axis=0) + rng.normal(0, 0.05, (batch, *one.shape[1:])).astype(
        np.float32
    )

    load_avg = os.getloadavg()
    model.score(one)
    single = _best_per_call_s(lambda: model.score(one), repeats)
    prep = _best_per_call_s(lambda: normalise_windows(one, sc.normalisation), repeats)
    model.score(many)
    batched = _best_per_call_s(lambda: model.score(many), max(3, 10 * repeats // batch))
    model.score(one)  # back to batch 1 for the next user of this interpreter
    per_window = (batched[0] / batch, batched[1] / batch)

    click.echo(
        f"model {model.path.name}: {model.path.stat().st_size / 1024:.1f} KB, "
        f"load {load_s * 1e3:.1f} ms; load average {load_avg[0]:.1f} on {os.cpu_count()} cores"
    )
    click.echo(f"one window end to end (normalise + int8 + invoke + dequantise): {_ms(single)}")
    click.echo(
        f"baseline, normalisation only (no network): {_ms(prep)} per window; "
        f"end to end is {single[1] / prep[1]:.1f}x the baseline (CPU)"
    )
    click.echo(
        f"batched ({batch} windows/call): {_ms(per_window)} per window = "
        f"{1 / per_window[1]:,.0f} windows per CPU-second ({1 / per_window[0]:,.0f} per wall "
        f"second), {single[1] / per_window[1]:.1f}x cheaper than one by one"
    )
    ok_latency, ok_throughput = single[1] <= 0.2e-3, 1 / per_window[1] >= 20000
    click.echo(
        f"targets (CPU time): one window <= 0.2 ms {'MET' if ok_latency else 'NOT MET'}; "
        f">= 20,000 windows/s {'MET' if ok_throughput else 'NOT MET'}"
    )
