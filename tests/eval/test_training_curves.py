"""Training curves: the figure, the numbers it plots and the TensorBoard files, from tiny fake histories."""

from __future__ import annotations

import builtins

import numpy as np
import pandas as pd
import pytest
import torch

from twostream.cli import main
from twostream.eval import training_curves
from twostream.models import checkpoint

PNG = b"\x89PNG\r\n\x1a\n"


def history(rows: int, loss0: float, lr: float, step: int | None = None) -> list[dict[str, float]]:
    """A trainer-like history, a row every 2 steps of 4-step epochs: falling loss, rising accuracy, lr / 10 from row
    ``step`` (plus extra keys)."""
    return [{"step": 2 * (i + 1), "epoch": (i + 1) / 2, "steps": 2, "loss": loss0 / (i + 1), "acc": i / rows,
             "lr": lr / 10 if step and i >= step else lr, "seconds": 1.5, "loss_a": 0.1} for i in range(rows)]


RUNS = {
    "split1/rgb": ("stream", history(4, 2.0, 0.01, step=2), {"modality": "rgb"}),
    "split1/flow": ("stream", history(4, 3.0, 0.01), {"modality": "flow"}),
    "split1/cmmp-sum": ("cmmp", history(3, 1.0, 0.001), {"variant": "sum"}),
    "split1/cma/iter2": ("cma", history(3, 1.2, 0.01), {"iteration": 2}),
    "split1/cma/iter1": ("cma", history(2, 1.5, 0.01), {"iteration": 1}),
    "split1/conv_fusion": ("conv_fusion", history(3, 2.5, 0.01, step=2), {"stage": "layer2"}),
}


def fake_checkpoints(folder) -> list[str]:
    paths = []
    for name, (kind, hist, config) in RUNS.items():
        path = folder / f"{name}.pt"
        checkpoint.save(path, torch.nn.Linear(2, 2), kind, config, hist)
        paths.append(str(path))
    return paths


def test_curves_table_holds_every_row_of_every_run():
    table = training_curves.curves(RUNS)
    assert list(table["run"].unique()) == list(RUNS)
    rgb = table[table["run"] == "split1/rgb"]
    assert rgb["step"].tolist() == [2, 4, 6, 8] and rgb["epoch"].tolist() == [0.5, 1.0, 1.5, 2.0]
    assert rgb["x"].tolist() == rgb["epoch"].tolist()  # a run of its own starts at 0
    assert rgb["loss"].tolist() == [2.0, 1.0, 2.0 / 3, 0.5]
    assert rgb["lr"].tolist() == [0.01, 0.01, 0.001, 0.001]
    assert rgb["acc"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert set(table["kind"]) == {"stream", "cmmp", "cma", "conv_fusion"}


def test_cma_iterations_follow_each_other():
    """Iteration 2 starts where iteration 1 ended (1 epoch), whatever the order the runs come in."""
    table = training_curves.curves(RUNS)
    iter1, iter2 = (table[table["run"] == f"split1/cma/iter{n}"] for n in (1, 2))
    assert iter1["start"].unique().tolist() == [0.0] and iter1["x"].tolist() == [0.5, 1.0]
    assert iter2["start"].unique().tolist() == [1.0] and iter2["x"].tolist() == [1.5, 2.0, 2.5]


def test_figure_marks_where_each_cma_iteration_starts():
    table = training_curves.curves(RUNS)
    fig = training_curves.draw(table, "t")
    kinds = list(training_curves.KINDS)
    axes = np.array(fig.axes).reshape(3, len(kinds))
    cma = axes[:, kinds.index("cma")]
    for ax in cma:  # the line at x = 1 (iter2's start), in every row of the CMA column
        assert [tuple(line.get_xdata()) for line in ax.get_lines() if line.get_linestyle() == "--"] == [(1.0, 1.0)]
    assert [t.get_text() for t in cma[0].texts] == ["iter2"]
    assert not any(line.get_linestyle() == "--" for ax in axes[:, kinds.index("stream")] for line in ax.get_lines())


def test_figure_plots_the_table_one_column_per_kind():
    """Every kind of the table of model kinds has its column (conv fusion too), in the table's order."""
    table = training_curves.curves(RUNS)
    fig = training_curves.draw(table, "t")
    kinds = list(training_curves.KINDS)
    axes = np.array(fig.axes).reshape(3, len(kinds))  # rows: loss, acc, lr; columns: the kinds
    assert [ax.get_title() for ax in axes[0]] == [k.label for k in training_curves.KINDS.values()]
    lines = {(cell, line.get_label()): line for cell, ax in enumerate(axes.flat) for line in ax.get_lines()
             if line.get_linestyle() != "--"}
    for (cell, run), line in lines.items():
        quantity = list(training_curves.QUANTITIES)[cell // len(kinds)]
        rows = table[table["run"] == run]
        np.testing.assert_allclose(line.get_xdata(), rows["x"])
        np.testing.assert_allclose(line.get_ydata(), rows[quantity])
        assert RUNS[run][0] == kinds[cell % len(kinds)]
    assert len(lines) == 3 * len(RUNS)


def test_a_history_without_accuracy_is_named():
    with pytest.raises(ValueError, match="split1/x: history lacks acc"):
        training_curves.curves({"split1/x": ("stream", [{"step": 1, "epoch": 1.0, "loss": 1.0, "lr": 0.1}], {})})


def test_command_writes_png_and_csv_from_checkpoints(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "torch.utils.tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    out = tmp_path / "results/training_curves.png"
    assert main(["training-curves", "--dataset", "d", "--checkpoints", *fake_checkpoints(tmp_path / "models"),
                 "--root", str(tmp_path / "models"), "--out", str(out), "--tensorboard", str(tmp_path / "tb")]) == 0
    assert out.read_bytes().startswith(PNG)
    numbers = pd.read_csv(out.with_suffix(".csv"))
    assert list(numbers["run"].unique()) == list(RUNS)  # named by their paths below models/
    pd.testing.assert_frame_equal(numbers, training_curves.curves(RUNS), check_dtype=False)
    assert not (tmp_path / "tb").exists()  # no tensorboard: silently no event files
    assert not list(out.parent.glob(".*tmp*"))


def test_tensorboard_event_files_hold_the_plotted_numbers(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    table = training_curves.curves(RUNS)
    (tmp_path / "tb/old").mkdir(parents=True)
    assert training_curves.write_tensorboard(table, tmp_path / "tb")
    assert not (tmp_path / "tb/old").exists()  # replaced, not mixed with an earlier run's files
    events = EventAccumulator(str(tmp_path / "tb/split1/rgb")).Reload()
    assert [e.value for e in events.Scalars("lr")] == pytest.approx([0.01, 0.01, 0.001, 0.001])
    assert [e.step for e in events.Scalars("loss")] == [2, 4, 6, 8]


def test_the_validation_curve_is_drawn_dashed_beside_the_training_accuracy():
    """Validated rows (epoch ends) carry val_acc, the others NaN; the dashed line joins the validated rows."""
    rows = [{**h, "val_acc": 0.1 * h["step"]} if h["step"] % 4 == 0 else h for h in history(4, 2.0, 0.01)]
    table = training_curves.curves({"rgb-x/split1": ("stream", rows, {"modality": "rgb"})})
    np.testing.assert_allclose(table["val_acc"], [np.nan, 0.4, np.nan, 0.8])
    assert training_curves.curves(RUNS)["val_acc"].isna().all()  # histories without validation
    fig = training_curves.draw(table, "t")
    accuracy = fig.axes[1]  # the second row: accuracy
    (validation,) = [line for line in accuracy.get_lines() if line.get_label() == "rgb-x/split1 (validation)"]
    assert validation.get_linestyle() == "--"
    np.testing.assert_allclose(validation.get_xdata(), [1.0, 2.0])
    np.testing.assert_allclose(validation.get_ydata(), [0.4, 0.8])
