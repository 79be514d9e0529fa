"""``twostream ingest`` command line: round trip through the CSV files, and bad arguments."""

from __future__ import annotations

import pandas as pd
import pytest
from twostream.cli import main
from twostream.data.ingest import FAILURE_COLUMNS, ingest, read_manifest


def ingestion(dataset: str = "tiny", **values) -> list[str]:
    """``--dataset`` and the options of ``values`` (``test_fraction=0.3`` -> ``--test-fraction 0.3``)."""
    return ["--dataset", dataset, *(a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", str(v)))]


@pytest.fixture
def root(tmp_path, put_video):
    root = tmp_path / "videos"
    for class_name in ("1", "NA"):  # names pandas would otherwise read as a number and as missing
        for i in range(4):
            put_video(root / class_name / f"{class_name}_{i}.avi")
    return root


def test_round_trip_writes_both_tables(tmp_path, root, capsys):
    out, failures = tmp_path / "out" / "manifest.csv", tmp_path / "out" / "failures.csv"
    args = ["ingest", *ingestion(seed=3, test_fraction=0.5), "--kind", "folder", "--root", str(root)]
    assert main([*args, "--out", str(out), "--failures", str(failures)]) == 0
    expected, _ = ingest("folder", root, seed=3, test_fraction=0.5)
    pd.testing.assert_frame_equal(read_manifest(out), expected)
    assert failures.read_text() == ",".join(FAILURE_COLUMNS) + "\n"
    assert capsys.readouterr().out == f"dataset 'tiny': 8 videos listed, 8 used, 0 failed, 0 skipped; each in {failures}\n"


def test_failures_file_lists_failures(tmp_path, root):
    (root / "1" / "1_0.avi").write_bytes(b"")
    out, failures = tmp_path / "manifest.csv", tmp_path / "failures.csv"
    assert (
        main(
            [
                "ingest",
                *ingestion(seed=0, test_fraction=0.3),
                "--kind",
                "folder",
                "--root",
                str(root),
                "--out",
                str(out),
                "--failures",
                str(failures),
            ]
        )
        == 0
    )
    table = pd.read_csv(failures)
    assert table.values.tolist() == [["1/1_0", "ingest", "empty file (0 bytes)"]]
    assert len(read_manifest(out)) == 7


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--kind", "folder", "--root", "{tmp}/absent"], "{tmp}/absent"),
        (["--kind", "ucf101", "--root", "{tmp}", "--splits-dir", "{tmp}"], "{tmp}/classInd.txt"),
        (["--kind", "kinetics400", "--root", "{tmp}", "--annotations", "{tmp}/train.csv"], "{tmp}/train.csv"),
    ],
    ids=["root", "splits", "annotations"],
)
def test_bad_arguments_give_one_error_line_naming_the_path(tmp_path, capsys, extra, named):
    out, failures = tmp_path / "manifest.csv", tmp_path / "failures.csv"
    argv = [
        "ingest",
        *ingestion(),
        *(a.format(tmp=tmp_path) for a in extra),
        "--out",
        str(out),
        "--failures",
        str(failures),
    ]
    assert main(argv) != 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("twostream ingest: error:")
    assert err[0].startswith("twostream ingest: error: dataset 'tiny': ")
    assert err[0].endswith(named.format(tmp=tmp_path))
    assert not out.exists() and not failures.exists()
