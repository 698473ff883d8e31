"""``crowdquake bench edge``: edge-model latency (one window, end to end) and batched throughput.

Baseline measured in the same run: the float scoring path without the network (normalisation
and int8 quantisation only), so the ratio shows what the interpreter itself costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np


def _best_per_call_s(fn: Callable[[], object], repeats: int, rounds: int = 5) -> float:
    """Best mean time per call over ``rounds`` rounds (the min filters noise on shared cores)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best


@click.command("edge")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None)
@click.option("--batch", default=4096, show_default=True, help="windows per batched call")
@click.option("--repeats", default=2000, show_default=True, help="single-window calls per round")
def bench_edge(model_path: Path | None, batch: int, repeats: int) -> None:
    """One-window latency through EdgeModel.score and batched windows/s."""
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

    model.score(one)
    single_s = _best_per_call_s(lambda: model.score(one), repeats)
    prep_s = _best_per_call_s(lambda: normalise_windows(one, sc.normalisation), repeats)
    model.score(many)
    batch_s = _best_per_call_s(lambda: model.score(many), max(3, 20000 // batch))
    model.score(one)  # back to batch 1 for the next user of this interpreter

    click.echo(
        f"model {model.path.name}: {model.path.stat().st_size / 1024:.1f} KB, "
        f"load {load_s * 1e3:.1f} ms"
    )
    click.echo(
        f"one window end to end (normalise + int8 + invoke + dequantise): {single_s * 1e3:.4f} ms"
    )
    click.echo(
        f"baseline, normalisation only (no network): {prep_s * 1e3:.4f} ms per window; "
        f"end to end is {single_s / prep_s:.1f}x the baseline"
    )
    click.echo(
        f"batched ({batch} windows/call): {batch / batch_s:,.0f} windows/s "
        f"({batch_s / batch * 1e6:.2f} us/window, "
        f"{single_s / (batch_s / batch):.1f}x faster than one by one)"
    )
    ok_latency, ok_throughput = single_s <= 0.2e-3, batch / batch_s >= 20000
    click.echo(
        f"targets: one window <= 0.2 ms {'MET' if ok_latency else 'NOT MET'}; "
        f">= 20,000 windows/s {'MET' if ok_throughput else 'NOT MET'}"
    )
