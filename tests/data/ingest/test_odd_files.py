"""Entries named like a listed video that are not video files: each listed with what it is, the rest go on.

A FIFO, a socket, a device, a directory, a symbolic link loop or a broken link, an unreadable or empty
file: before, all but the empty file were reported ``missing file`` (and opening a FIFO would block).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from twostream.data.ingest import ingest
from twostream.data.video import file_problem

ODD = {  # video id -> reason
    "v_fifo": "a FIFO (named pipe), not a video file",
    "v_socket": "a socket, not a video file",
    "v_device": "a character device, not a video file",
    "v_dir": "a directory, not a video file",
    "v_loop": "symbolic link loop (the link leads back to itself)",
    "v_broken": "broken symbolic link (target 'gone.avi' is missing)",
    "v_empty": "empty file (0 bytes)",
}


def odd_entries(folder: Path) -> list[socket.socket]:
    """The entries of ODD in ``folder``; returns the bound sockets (close them after the test)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "v_fifo.avi")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "v_socket.avi"))
    (folder / "v_device.avi").symlink_to("/dev/null")
    (folder / "v_dir.avi").mkdir()
    (folder / "v_loop.avi").symlink_to(folder / "v_loop.avi")
    (folder / "v_broken.avi").symlink_to("gone.avi")
    (folder / "v_empty.avi").write_bytes(b"")
    return [sock]


@pytest.fixture
def dataset(tmp_path, put_video):
    root = tmp_path / "v"
    socks = odd_entries(root / "A")
    put_video(root / "A" / "v_good.avi")
    put_video(root / "A" / "v_fine.mp4")
    splits = tmp_path / "s"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 A\n")
    listed = "".join(f"A/{name}.avi 1\n" for name in [*ODD, "v_good"])
    for k in (1, 2, 3):
        (splits / f"trainlist0{k}.txt").write_text(listed)
        (splits / f"testlist0{k}.txt").write_text("A/v_fine.avi\n")
    yield root, splits
    for sock in socks:
        sock.close()


def test_each_odd_entry_is_listed_with_what_it_is(dataset, capsys) -> None:
    root, splits = dataset
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest["video_id"].tolist() == ["v_fine", "v_good"]
    assert dict(zip(failures.video, failures.reason)) == ODD
    err = capsys.readouterr().err
    for video, reason in ODD.items():
        assert f"{video}: {reason}" in err


def test_an_odd_entry_beside_a_usable_file_of_the_same_id_leaves_the_file_used(tmp_path, put_video) -> None:
    root = tmp_path / "v"
    (root / "A").mkdir(parents=True)
    os.mkfifo(root / "A" / "v_x.avi")
    put_video(root / "A" / "v_x.mp4")  # sorts after the FIFO, is kept all the same
    splits = tmp_path / "s"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 A\n")
    for k in (1, 2, 3):
        (splits / f"trainlist0{k}.txt").write_text("A/v_x.avi 1\n")
        (splits / f"testlist0{k}.txt").write_text("")
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest["path"].tolist() == [str(root / "A" / "v_x.mp4")]
    assert failures["reason"].tolist() == [f"duplicate video id v_x (kept {root / 'A' / 'v_x.mp4'})"]


def test_folder_kind_lists_odd_entries_as_skipped_with_what_they_are(tmp_path, put_video) -> None:
    root = tmp_path / "v"
    socks = odd_entries(root / "A")
    for k in range(4):
        put_video(root / "A" / f"good{k}.avi")
    manifest, failures = ingest("folder", root, seed=0, test_fraction=0.5)
    for sock in socks:
        sock.close()
    assert sorted(manifest["video_id"]) == [f"A/good{k}" for k in range(4)]
    why = dict(zip(failures.video, failures.reason))
    expected = {f"A/{name}.avi": f"skipped: {reason}" for name, reason in ODD.items()}
    expected["A/v_dir.avi"] = "skipped: a directory named like a video (its contents are searched)"
    expected["A/v_empty"] = "empty file (0 bytes)"  # a regular file: probed
    del expected["A/v_empty.avi"]
    assert why == expected


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_named_so(tmp_path, put_video) -> None:
    path = put_video(tmp_path / "v.avi")
    path.chmod(0)
    assert file_problem(path) == "not readable (permission denied)"


def test_a_folder_that_cannot_be_entered_is_named_so(tmp_path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root enters folders whatever their permissions")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0)
    assert file_problem(tmp_path / "locked" / "v.avi") == "cannot read the file (Permission denied)"
    (tmp_path / "locked").chmod(0o755)
