"""Run metrics exported through Ray's metrics API (served by Ray in Prometheus format).

Which report fields become gauges, with their units and meanings, is declared once
on `RunReport` (deploy/runtime/report.py). Every name is documented in the README's
metrics table; the Grafana dashboard queries them with Ray's `ray_` prefix
(e.g. `ray_vtrax_env_frames_per_second`).
"""

from __future__ import annotations

from vtrax.deploy.runtime.report import GAUGES, LOSS_GAUGE, RunReport

__all__ = ["GAUGES", "LOSS_GAUGE", "RayMetrics"]


class RayMetrics:
    """Ray `Gauge`s set from each report."""

    def __init__(self):
        from ray.util.metrics import Gauge

        self._gauges = {gauge: Gauge(gauge.name, description=f"{gauge.meaning} [{gauge.unit}]") for gauge in GAUGES}
        self._loss = Gauge(LOSS_GAUGE.name, description=f"{LOSS_GAUGE.meaning} [{LOSS_GAUGE.unit}]",
                           tag_keys=("term",))

    def record(self, report: RunReport) -> None:
        for gauge, metric in self._gauges.items():
            value = getattr(report, gauge.field)
            if isinstance(value, (int, float)):
                metric.set(float(value))
        for term, value in report.loss.items():
            if isinstance(value, (int, float)):
                self._loss.set(float(value), tags={"term": term})
