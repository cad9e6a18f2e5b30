"""Draw learning curves to a PNG: return against env frames (left) and wall time (right).

matplotlib is imported inside `draw` (Agg backend, no display needed), so the
rest of vtrax never pays for it.
"""

from __future__ import annotations

from pathlib import Path

from vtrax.deploy.bench.curves import X_AXES, RunCurve, band

AXIS_TITLES = {"env_frames": "environment frames", "wall_seconds": "wall time (s)"}


def draw(groups: dict[str, list[RunCurve]], output: str | Path, *, title: str = "") -> Path:
    """One band per configuration (median line, min-max shaded) on both x axes; writes `output` (PNG).

    Returns:
      The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, len(X_AXES), figsize=(11, 4), constrained_layout=True)
    try:
        for ax, axis in zip(axes, X_AXES):
            for label, curves in groups.items():
                _draw_band(ax, band(label, curves, axis))
            ax.set_xlabel(AXIS_TITLES[axis])
            ax.set_ylabel("mean return, last 100 episodes")
            ax.grid(alpha=0.3)
        axes[0].legend(loc="best", fontsize="small")
        if title:
            figure.suptitle(title)
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output, dpi=90)
    finally:
        pyplot.close(figure)
    return output


def _draw_band(ax, curve_band) -> None:
    seeds = f"{curve_band.seeds} seed{'s' if curve_band.seeds != 1 else ''}"
    line, = ax.plot(curve_band.grid, curve_band.median, label=f"{curve_band.label} (median of {seeds})")
    if curve_band.seeds > 1:
        ax.fill_between(curve_band.grid, curve_band.low, curve_band.high, color=line.get_color(), alpha=0.2,
                        linewidth=0)
