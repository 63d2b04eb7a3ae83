"""Training metrics to a CSV file and TensorBoard, and loss curves as a matplotlib PNG (main rank only).

The CSV is appended to, so a resumed run continues the same file; rows logged after the resumed checkpoint's step are
dropped first, so the file never holds two rows for one step.
"""

from __future__ import annotations

import csv
from pathlib import Path

METRICS_CSV = "metrics.csv"
LOSS_PLOT = "loss.png"


class MetricsLogger:
    """Appends one row per logged step (step + named scalars) to metrics.csv and TensorBoard under `run_dir`;
    `resume_step` = steps completed by the checkpoint the run continues from (0 = fresh run)."""

    def __init__(self, run_dir: Path, columns: list[str], resume_step: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_CSV
        self.columns = ["step", *columns]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = self._rows_up_to(resume_step) if self.path.exists() else []
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(kept)
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"), purge_step=resume_step + 1)

    def _rows_up_to(self, step: int) -> list[dict]:
        """Rows of an existing CSV for steps <= `step`, checked against this run's columns."""
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != self.columns:
                raise ValueError(f"{self.path}: columns {reader.fieldnames} differ from this run's {self.columns}")
            return [row for row in reader if int(row["step"]) <= step]

    def log(self, step: int, values: dict[str, float]) -> None:
        """Write one row (every column must be present) and the same scalars to TensorBoard."""
        missing = set(self.columns[1:]) - set(values)
        if missing:
            raise KeyError(f"metrics for step {step} miss columns {sorted(missing)}")
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow({"step": step, **values})
        if self._writer is not None:
            for name, value in values.items():
                self._writer.add_scalar(name, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: Path) -> dict[str, list[float]]:
    """metrics.csv -> {column: values} (floats)."""
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {name: [float(row[name]) for row in rows] for name in rows[0]}


def plot_losses(csv_path: Path, out_path: Path, columns: list[str], title: str) -> Path:
    """Plot the given loss columns of metrics.csv against step (log y axis) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = read_metrics(csv_path)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for name in columns:
        if name in metrics:
            ax.plot(metrics["step"], metrics[name], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if metrics and all(v > 0 for name in columns if name in metrics for v in metrics[name]):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return Path(out_path)
