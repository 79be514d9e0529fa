"""A trial on part of a dataset: the first N classes (or named ones), at most M videos per class, split and role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twostream.data.ingest import IngestError, Subset, ingest, read_manifest
from twostream.files import write_csv

CLASSES = ["Zebra", "Apple", "Mango"]  # classInd order, not alphabetical: the subset follows classInd


def ucf_tree(tmp_path: Path, put_video, per_group: int = 2) -> tuple[Path, Path]:
    """UCF-101 layout, 3 classes in classInd order, groups 1-3 with ``per_group`` clips; split k tests group k,
    vallist01 names one more clip (group 0) per class; one listed clip of Zebra is missing."""
    root, splits = tmp_path / "videos", tmp_path / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    lists: dict[str, list[str]] = {}
    for c in CLASSES:
        for g in range(0, 4):
            for n in range(1, per_group + 1 if g else 2):
                name = f"v_{c}_g{g:02d}_c{n:02d}"
                if name != "v_Zebra_g01_c01":
                    put_video(root / c / f"{name}.avi")
                for k in (1, 2, 3):
                    role = "val" if g == 0 else "test" if g == k else "train"
                    if role != "val" or k == 1:
                        lists.setdefault(f"{role}list0{k}.txt", []).append(f"{c}/{name}.avi")
    for name, lines in lists.items():
        (splits / name).write_text("\r\n".join(lines) + "\r\n")
    return root, splits


def roles(manifest, column: str) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for row in manifest.itertuples():
        role = getattr(row, column)
        if role:
            out.setdefault((row.class_name, role), []).append(row.video_id)
    return out


def test_first_classes_in_class_order_and_at_most_m_per_class_split_and_role(tmp_path, put_video):
    root, splits = ucf_tree(tmp_path, put_video)
    manifest, failures = ingest("ucf101", root, splits_dir=splits, splits=[1], subset=Subset(2, 1))
    assert sorted(manifest["class_name"].unique()) == ["Apple", "Zebra"]  # classInd's first two, not sorted names
    assert set(manifest["label"]) == {0, 1}  # the full dataset's labels
    picked = roles(manifest, "split1")
    # The first video by id among those found: Zebra's g01_c01 is missing, so its test video is g01_c02.
    assert picked == {("Zebra", "train"): ["v_Zebra_g02_c01"], ("Zebra", "test"): ["v_Zebra_g01_c02"],
                      ("Zebra", "val"): ["v_Zebra_g00_c01"], ("Apple", "train"): ["v_Apple_g02_c01"],
                      ("Apple", "test"): ["v_Apple_g01_c01"], ("Apple", "val"): ["v_Apple_g00_c01"]}
    assert (manifest["split2"] == "").all() and (manifest["split3"] == "").all()  # splits not configured: emptied
    assert set(manifest["subset"]) == {json.dumps({"classes": 2, "per_class": 1}, separators=(",", ":"))}
    assert list(failures["video"]) == ["v_Zebra_g01_c01"]  # Mango's videos are not even looked for
    out = tmp_path / "manifest.csv"
    write_csv(manifest, out)
    assert read_manifest(out)["subset"].tolist() == manifest["subset"].tolist()  # recorded, read back


def test_each_configured_split_gets_its_own_m_and_roles_not_chosen_are_emptied(tmp_path, put_video):
    root, splits = ucf_tree(tmp_path, put_video)
    manifest, _ = ingest("ucf101", root, splits_dir=splits, splits=[1, 2], subset=Subset(("Mango",), 2))
    assert set(manifest["class_name"]) == {"Mango"}
    for k in ("split1", "split2"):
        counts = {role: len(ids) for (_, role), ids in roles(manifest, k).items()}
        assert counts == ({"train": 2, "test": 2, "val": 1} if k == "split1" else {"train": 2, "test": 2})
    # g01 clips train in split 2, but were not among its first 2 training videos (g01 < g03 by id, so they were):
    assert roles(manifest, "split2")[("Mango", "train")] == ["v_Mango_g01_c01", "v_Mango_g01_c02"]
    assert roles(manifest, "split1")[("Mango", "train")] == ["v_Mango_g02_c01", "v_Mango_g02_c02"]
    assert (manifest["split3"] == "").all()


def test_the_subset_is_deterministic_and_grows_into_the_full_dataset(tmp_path, put_video):
    root, splits = ucf_tree(tmp_path, put_video)
    small, _ = ingest("ucf101", root, splits_dir=splits, subset=Subset(2, 1))
    again, _ = ingest("ucf101", root, splits_dir=splits, subset=Subset(2, 1))
    assert small.equals(again)
    full, _ = ingest("ucf101", root, splits_dir=splits)
    assert "subset" not in full.columns
    rows = full.set_index("video_id")
    for row in small.itertuples():  # every trial video is in the full manifest, with the same label
        assert rows.loc[row.video_id, "label"] == row.label and rows.loc[row.video_id, "path"] == row.path


def test_all_classes_with_per_class_only(tmp_path, put_video):
    root, splits = ucf_tree(tmp_path, put_video)
    manifest, _ = ingest("ucf101", root, splits_dir=splits, splits=[1], subset=Subset(per_class=1))
    assert sorted(manifest["class_name"].unique()) == sorted(CLASSES) and len(manifest) == 9


def test_an_unknown_class_name_is_one_error_naming_it(tmp_path, put_video):
    root, splits = ucf_tree(tmp_path, put_video)
    with pytest.raises(IngestError, match="unknown class 'Banana'"):
        ingest("ucf101", root, splits_dir=splits, subset=Subset(("Apple", "Banana"), 1))


def test_ingest_command_takes_the_config_names(tmp_path, put_video):
    from twostream.cli import main

    root, splits = ucf_tree(tmp_path, put_video)
    out, failures = tmp_path / "m.csv", tmp_path / "f.csv"
    assert main(["ingest", "--kind", "ucf101", "--root", str(root), "--splits-dir", str(splits), "--splits", "1",
                 "--classes", "Apple", "Mango", "--per-class", "1", "--out", str(out), "--failures", str(failures)]) == 0
    manifest = read_manifest(out)
    assert sorted(manifest["class_name"].unique()) == ["Apple", "Mango"] and len(manifest) == 6
