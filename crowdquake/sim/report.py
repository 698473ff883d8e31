"""Turn a ``SuiteResult`` into JSON, a plain-text table and PNG plots (matplotlib Agg)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from crowdquake.sim.harness import SuiteResult
from crowdquake.sim.metrics import Outcome

ROWS: tuple[tuple[str, str, str], ...] = (
    ("detect M>=4.5", "detection_rate_m_ge_4_5", "rate"),
    ("detect M3.5-4.5", "detection_rate_m_3_5_to_4_5", "rate"),
    ("false ev./region-day", "false_events_per_region_day", "value"),
    ("false ev. (noise+look)", "false_events_noise_and_lookalikes", "value"),
    ("spurious in eq. scen.", "spurious_events_in_earthquake_scenarios", "value"),
    ("delay med s", "delay_s", "median"),
    ("delay p90 s", "delay_s", "p90"),
    ("delay M>=4.5,>=0.1% med", "delay_s_m_ge_4_5_pen_ge_0_1pct", "median"),
    ("over phys. limit med s", "delay_over_physical_limit_s", "median"),
    ("over phys. limit p90 s", "delay_over_physical_limit_s", "p90"),
    ("epi first med km", "epicentre_error_first_km", "median"),
    ("epi first p90 km", "epicentre_error_first_km", "p90"),
    ("epi final med km", "epicentre_error_final_km", "median"),
    ("epi final p90 km", "epicentre_error_final_km", "p90"),
    ("|dt0| final med s", "origin_time_error_abs_s", "median"),
    ("|dM| first med (M<7)", "abs_dm_first", "median"),
    ("|dM| first MAE (M<7)", "abs_dm_first", "mae"),
    ("|dM| final med (M<7)", "abs_dm_final", "median"),
    ("|dM| final MAE (M<7)", "abs_dm_final", "mae"),
    ("|dM| first med M>=7", "abs_dm_first_m_ge_7", "median"),
    ("|dM| final med M>=7", "abs_dm_final_m_ge_7", "median"),
    ("|dM| final MAE M>=7", "abs_dm_final_m_ge_7", "mae"),
    ("z(M) first sd", "z_magnitude_first", "sd"),
    ("z(M) final sd", "z_magnitude_final", "sd"),
    ("|z(M)|<=2 first", "z_magnitude_first", "within_2"),
    ("outside cloud: scenarios", "outside_cloud_scenarios", "value"),
    ("outside: detect", "outside_cloud_detection_rate", "rate"),
    ("outside: epi first med km", "outside_cloud_epicentre_error_first_km", "median"),
    ("outside: epi final med km", "outside_cloud_epicentre_error_final_km", "median"),
    ("outside: |dM| first med", "outside_cloud_abs_dm_first", "median"),
    ("outside: |dM| final med", "outside_cloud_abs_dm_final", "median"),
    ("held (final, detected)", "held_final_detected", "rate"),
    ("|dM| alert final med", "abs_dm_alert_final", "median"),
    ("CPU ms/1000 triggers", "cpu_ms_per_1000_triggers", "value"),
    ("p99 update ms", "update_ms_p99", "value"),
    ("scenarios run", "n_scenarios", "value"),
)


def _cell(metrics: dict[str, Any], key: str, field: str) -> str:
    v = metrics.get(key)
    if field == "rate" and isinstance(v, dict):
        if not v.get("total"):
            return "-"
        return f"{100 * v['rate']:.1f}% ({v['detected']}/{v['total']})"
    if field != "value" and isinstance(v, dict):
        v = v.get(field)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def table(result: SuiteResult) -> str:
    metrics = result.metrics()
    names = result.methods
    width = 24
    lines = ["metric".ljust(width) + "".join(n[:18].rjust(20) for n in names)]
    for label, key, field in ROWS:
        lines.append(
            label.ljust(width) + "".join(_cell(metrics[n], key, field).rjust(20) for n in names)
        )
    for name, note in result.skipped.items():
        lines.append(f"skipped {name}: {note}")
    for name, note in result.subset_notes.items():
        lines.append(f"subset {name}: {note}")
    for method, scenario, err in result.errors:
        lines.append(f"ERROR {method} on {scenario} (counted as a miss): {err}")
    return "\n".join(lines)


def to_json(result: SuiteResult) -> dict[str, Any]:
    return {
        "suite": result.suite,
        "seed": result.seed,
        "wall_s": round(result.wall_s, 2),
        "n_triggers_simulated": result.n_triggers_simulated,
        "skipped_methods": result.skipped,
        "subsets": result.subset_notes,
        "errors": [{"method": m, "scenario": s, "error": e} for m, s, e in result.errors],
        "methods": result.metrics(),
        "outcomes": {m: [o.to_json() for o in outs] for m, outs in result.outcomes.items()},
    }


def write_json(result: SuiteResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(result), indent=1, allow_nan=False), encoding="utf-8")


def write_plots(result: SuiteResult, out_dir: Path) -> list[Path]:
    """Error vs magnitude, delay vs magnitude, and a map of the worst final locations."""
    from crowdquake.sim.extras import import_extra

    import_extra("matplotlib").use("Agg")
    plt = import_extra("matplotlib.pyplot")

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    panels = (
        ("final_epicentre_km", "final epicentre error (km)", "error_vs_magnitude.png"),
        ("delay_s", "first detection delay after origin (s)", "delay_vs_magnitude.png"),
        ("final_dm", "|dM| final", "dm_vs_magnitude.png"),
    )
    for attr, ylabel, fname in panels:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for k, (m, outs) in enumerate(result.outcomes.items()):
            pts = [
                (o.magnitude, getattr(o, attr))
                for o in outs
                if o.detected and not math.isnan(getattr(o, attr))
            ]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.scatter(x, y, s=14, alpha=0.6, label=m, marker="os^Dv"[k % 5])
        ax.set_xlabel("true magnitude")
        ax.set_ylabel(ylabel)
        if attr == "final_epicentre_km":
            ax.set_yscale("symlog", linthresh=1.0)
        ax.legend(fontsize=8)
        ax.set_title(f"{result.suite} suite, seed {result.seed}")
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=110)
        plt.close(fig)
        written.append(out_dir / fname)
    written.append(_worst_map(result, out_dir, plt))
    return written


def _worst_map(result: SuiteResult, out_dir: Path, plt: Any) -> Path:
    fig, ax = plt.subplots(figsize=(7, 6))
    for m, outs in result.outcomes.items():
        worst: list[Outcome] = sorted(
            (o for o in outs if o.detected and not math.isnan(o.final_epicentre_km)),
            key=lambda o: -o.final_epicentre_km,
        )[:8]
        for o in worst:
            ax.plot(
                [o.true_lon_deg, o.final_lon_deg],
                [o.true_lat_deg, o.final_lat_deg],
                "-",
                lw=0.8,
                alpha=0.7,
            )
            ax.scatter([o.true_lon_deg], [o.true_lat_deg], marker="*", s=60, c="k")
            ax.annotate(
                f"{m[:6]} M{o.magnitude:.1f} {o.final_epicentre_km:.0f} km",
                (o.final_lon_deg, o.final_lat_deg),
                fontsize=6,
            )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("worst final epicentres per method (star = truth)")
    fig.tight_layout()
    path = out_dir / "worst_locations.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
