"""Split and annotation files as users' editors save them, and what they name or fail to name.

Separators (tabs, several spaces), encodings (BOMs, UTF-16, Latin-1, Windows-1252, binary), line endings
(CRLF, CR), Unicode normal forms, a class listed twice, classes with videos but no lines and with lines
but no videos, videos no line names, and only the configured splits' files required.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

from twostream.data.ingest import IngestError, ingest

CLASSES = ("Alpha", "Beta")


def ucf_splits(folder: Path, train: list[str], test: list[str] = (), classes: bytes | None = None,
               encode=lambda text: text.encode(), splits=(1, 2, 3)) -> Path:
    """A UCF-101 split folder: ``classInd.txt`` and the lists of ``splits`` (the same lines in each)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = "".join(f"{i} {name}\r\n" for i, name in enumerate(CLASSES, 1))
    (folder / "classInd.txt").write_bytes(classes if classes is not None else encode(index))
    for k in splits:
        (folder / f"trainlist0{k}.txt").write_bytes(encode("".join(f"{line}\r\n" for line in train)))
        (folder / f"testlist0{k}.txt").write_bytes(encode("".join(f"{line}\r\n" for line in test)))
    return folder


@pytest.fixture
def root(tmp_path, put_video) -> Path:
    for name in ("Alpha/v_a1.avi", "Alpha/v_a2.avi", "Beta/v_b1.avi"):
        put_video(tmp_path / "videos" / name)
    return tmp_path / "videos"


def reasons(failures) -> dict[str, str]:
    return dict(zip(failures.video, failures.reason))


@pytest.mark.parametrize("separator", ["\t", "  ", " \t "])
def test_any_whitespace_separates_the_label(tmp_path, root, separator) -> None:
    train = [f"Alpha/v_a1.avi{separator}1", f"Beta/v_b1.avi{separator}2"]
    index = "".join(f"{i}{separator}{name}\n" for i, name in enumerate(CLASSES, 1)).encode()
    manifest, failures = ingest("ucf101", root, splits_dir=ucf_splits(tmp_path / "s", train, ["Alpha/v_a2.avi"],
                                                                      classes=index))
    assert failures.empty
    assert manifest[["video_id", "label", "split1"]].values.tolist() == [
        ["v_a1", 0, "train"], ["v_a2", 0, "test"], ["v_b1", 1, "train"]]


def test_hmdb_lines_with_tabs(tmp_path, put_video) -> None:
    put_video(tmp_path / "videos" / "ride" / "r1.avi")
    put_video(tmp_path / "videos" / "ride" / "r2.avi")
    splits = tmp_path / "s"
    splits.mkdir()
    for k in (1, 2, 3):
        (splits / f"ride_test_split{k}.txt").write_text("r1.avi\t1\r\nr2.avi \t 2\r\n")
    manifest, failures = ingest("hmdb51", tmp_path / "videos", splits_dir=splits)
    assert failures.empty and manifest["split1"].tolist() == ["train", "test"]


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_every_line_ending(tmp_path, root, ending) -> None:
    splits = ucf_splits(tmp_path / "s", [], encode=lambda text: text.replace("\r\n", ending).encode())
    (splits / "trainlist01.txt").write_bytes(ending.join(["Alpha/v_a1.avi 1", "Beta/v_b1.avi 2"]).encode())
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest["video_id"].tolist() == ["v_a1", "v_b1"] and manifest["label"].tolist() == [0, 1]


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_unicode_encodings_are_read_and_named(tmp_path, root, codec, capsys) -> None:
    splits = ucf_splits(tmp_path / "s", ["Alpha/v_a1.avi 1", "Beta/v_b1.avi 2"], ["Alpha/v_a2.avi"],
                        encode=lambda text: text.encode(codec))
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest["video_id"].tolist() == ["v_a1", "v_a2", "v_b1"] and manifest["label"].tolist() == [0, 0, 1]
    if codec == "utf-8-sig":
        assert failures.empty
        return
    warned = reasons(failures)
    assert set(warned) == {str(splits / name) for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt",
                                                            "trainlist02.txt", "testlist02.txt", "trainlist03.txt",
                                                            "testlist03.txt")}
    assert all(reason.startswith("UTF-") and "not UTF-8: read as UTF-" in reason for reason in warned.values())
    assert f"{splits / 'classInd.txt'}: UTF-" in capsys.readouterr().err


def test_latin1_is_read_with_a_warning_naming_file_line_and_byte(tmp_path, root, put_video) -> None:
    put_video(root / "Alpha" / "v_café.avi")
    splits = ucf_splits(tmp_path / "s", ["Alpha/v_a1.avi 1", "Alpha/v_café.avi 1"], encode=lambda t: t.encode("latin-1"))
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest["video_id"].tolist() == ["v_a1", "v_café"]
    train = str(splits / "trainlist01.txt")
    assert reasons(failures)[train] == ("not UTF-8 (byte 0xE9 at line 2, column 12): read as Latin-1 "
                                        "(save it as UTF-8 to be sure)")


@pytest.mark.parametrize(("content", "message"), [
    ("Alpha/v_\u201ca1\u201d.avi 1\r\n".encode("cp1252"), r"trainlist01.txt:1: not UTF-8 \(byte 0x93 at line 1, "
                                                            r"column 9\); an 8-bit code page such as Windows-1252"),
    (b"PK\x03\x04\x00\x00binary", r"trainlist01.txt:1: not a text file"),
    (b"\xff\xfeA\x00\x00\xd8", r"trainlist01.txt: starts with a UTF-16-LE byte-order mark but byte 4"),
], ids=["cp1252", "binary", "broken-utf16"])
def test_an_undecodable_split_file_is_one_error_naming_file_line_and_encoding(tmp_path, root, content, message) -> None:
    splits = ucf_splits(tmp_path / "s", [])
    (splits / "trainlist01.txt").write_bytes(content)
    with pytest.raises(IngestError, match=message) as error:
        ingest("ucf101", root, splits_dir=splits)
    assert len(str(error.value).splitlines()) == 1 and str(splits) in str(error.value)


def test_names_in_another_unicode_normal_form_match(tmp_path, root, put_video) -> None:
    """A file written on macOS (decomposed, NFD) and a list in the composed form (NFC), and the reverse."""
    put_video(root / "Alpha" / unicodedata.normalize("NFD", "v_crème.avi"))
    put_video(root / "Beta" / unicodedata.normalize("NFC", "v_brûlée.avi"))
    train = ["Alpha/" + unicodedata.normalize("NFC", "v_crème.avi"), "Beta/" + unicodedata.normalize("NFD", "v_brûlée.avi"),
             "Alpha/v_a1.avi", "Alpha/v_a2.avi", "Beta/v_b1.avi"]
    manifest, failures = ingest("ucf101", root, splits_dir=ucf_splits(tmp_path / "s", train))
    assert len(manifest) == 5 and failures.empty


def test_windows_backslashes_in_list_lines(tmp_path, root) -> None:
    manifest, failures = ingest("ucf101", root, splits_dir=ucf_splits(tmp_path / "s", ["Alpha\\v_a1.avi 1"]))
    assert manifest["video_id"].tolist() == ["v_a1"]


def test_a_class_listed_twice_keeps_its_first_label_and_is_named(tmp_path, root, capsys) -> None:
    index = b"1 Alpha\r\n2 Beta\r\n3 Alpha\r\n"
    train = ["Alpha/v_a1.avi 1", "Alpha/v_a2.avi 3", "Beta/v_b1.avi 2"]
    splits = ucf_splits(tmp_path / "s", train, classes=index)
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert manifest[["video_id", "label"]].values.tolist() == [["v_a1", 0], ["v_b1", 1]]
    why = reasons(failures)
    line = f"{splits / 'classInd.txt'}:3"
    assert why[line] == ("class 'Alpha' listed again as 3 (first as 1 on line 1): its videos keep label 1, "
                         "index 3 has no class")
    assert "label 3 but classInd.txt gives 1" in why[f"{splits / 'trainlist01.txt'}:2"]  # the affected video
    assert f"{line}: class 'Alpha' listed again" in capsys.readouterr().err


def test_a_class_with_videos_but_no_split_lines_is_one_line_and_its_videos_are_failures(tmp_path, root, put_video,
                                                                                         capsys) -> None:
    for k in range(3):
        put_video(root / "Gamma" / f"v_g{k}.avi")  # not in classInd.txt, in no list
    put_video(root / "Alpha" / "v_extra.avi")  # a class's folder, in no list
    manifest, failures = ingest("ucf101", root, splits_dir=ucf_splits(tmp_path / "s", ["Alpha/v_a1.avi 1"]))
    assert manifest["video_id"].tolist() == ["v_a1"]
    why = reasons(failures)
    assert {v: r for v, r in why.items() if v.startswith("Gamma/")} == {
        f"Gamma/v_g{k}.avi": "skipped: class 'Gamma' has videos but no split file lines" for k in range(3)}
    assert why["Alpha/v_extra.avi"] == why["Alpha/v_a2.avi"] == "skipped: no split file line names it"
    err = capsys.readouterr().err.splitlines()
    assert f"{root / 'Gamma'}: class 'Gamma' has 3 videos but no split file lines: not used (each in the failures " \
           "table)" in err
    assert f"{root / 'Alpha'}: 2 videos that no split file line names: not used (each in the failures table)" in err
    assert not any("Gamma/v_g" in line for line in err)  # the class is one line, its videos are in the table


def test_a_class_with_split_lines_but_no_videos_is_one_line(tmp_path, root, capsys) -> None:
    train = ["Alpha/v_a1.avi 1", "Beta/v_b1.avi 2", "Beta/v_b9.avi 2"]
    shutil.rmtree(root / "Beta")
    manifest, failures = ingest("ucf101", root, splits_dir=ucf_splits(tmp_path / "s", train))
    assert manifest["video_id"].tolist() == ["v_a1"]
    assert reasons(failures) == {"v_b1": "missing file", "v_b9": "missing file",
                                 "Alpha/v_a2.avi": "skipped: no split file line names it"}
    err = capsys.readouterr().err
    assert f"class 'Beta': none of its 2 listed videos is found (folder {root / 'Beta'} does not exist)" in err


def test_only_the_configured_splits_files_are_required(tmp_path, root, put_video) -> None:
    splits = ucf_splits(tmp_path / "s", ["Alpha/v_a1.avi 1"], ["Beta/v_b1.avi"], splits=(1,))
    manifest, failures = ingest("ucf101", root, splits_dir=splits, splits=[1])
    assert manifest["split1"].tolist() == ["train", "test"] and manifest["split2"].tolist() == ["", ""]
    with pytest.raises(IngestError, match="UCF-101 split file not found: .*trainlist02.txt"):
        ingest("ucf101", root, splits_dir=splits, splits=[1, 2])
    with pytest.raises(IngestError, match=r"splits \[4\]: a ucf101 dataset has splits 1..3"):
        ingest("ucf101", root, splits_dir=splits, splits=[4])
    put_video(tmp_path / "hmdb" / "ride" / "r1.avi")
    (tmp_path / "hs").mkdir()
    (tmp_path / "hs" / "ride_test_split1.txt").write_text("r1.avi 1\n")
    manifest, failures = ingest("hmdb51", tmp_path / "hmdb", splits_dir=tmp_path / "hs", splits=[1])
    assert manifest["split1"].tolist() == ["train"] and failures.empty
    with pytest.raises(IngestError, match="HMDB-51 split file not found: .*ride_test_split2.txt"):
        ingest("hmdb51", tmp_path / "hmdb", splits_dir=tmp_path / "hs", splits=[1, 2])


def test_kinetics_csvs_from_a_spreadsheet(tmp_path, put_video) -> None:
    """Semicolons, a UTF-16 encoding with BOM, column names in another case, CRLF."""
    put_video(tmp_path / "videos" / "abseiling" / "aaa_000001_000011.mp4")
    put_video(tmp_path / "videos" / "abseiling" / "bbb_000002_000012.mp4")
    put_video(tmp_path / "videos" / "hidden_000000_000010.mp4")  # an unlabelled test row: named, not used
    text = ("Label;YouTube_ID;Time_Start;Time_End;Split\r\nabseiling;aaa;1;11;train\r\nabseiling;bbb;2;12;validate\r\n"
            ";hidden;0;10;test\r\n")
    (tmp_path / "k.csv").write_bytes(text.encode("utf-16"))
    manifest, failures = ingest("kinetics400", tmp_path / "videos", annotations=[tmp_path / "k.csv"])
    assert manifest[["video_id", "split1"]].values.tolist() == [["aaa_000001_000011", "train"],
                                                              ["bbb_000002_000012", "test"]]
    assert list(failures.video) == [str(tmp_path / "k.csv")]  # the encoding warning only


def test_kinetics_video_no_row_names_is_a_failure(tmp_path, put_video) -> None:
    """A late download of a video the CSVs do not name (yet) is listed, not silently ignored."""
    put_video(tmp_path / "videos" / "abseiling" / "aaa_000001_000011.mp4")
    put_video(tmp_path / "videos" / "abseiling" / "zzz_000001_000011.mp4")
    (tmp_path / "k.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,aaa,1,11,train\n")
    manifest, failures = ingest("kinetics400", tmp_path / "videos", annotations=[tmp_path / "k.csv"])
    assert reasons(failures) == {"abseiling/zzz_000001_000011.mp4": "skipped: no annotation CSV line names it"}


def test_mmaction2_lists_naming_folder_and_file_leave_no_video_unnamed(tmp_path, put_video) -> None:
    for name in ("Run/a.avi", "Jump/c.avi", "Jump/extra.avi"):
        put_video(tmp_path / "videos" / name)
    (tmp_path / "t.txt").write_text("Run/a.avi 1\n")
    (tmp_path / "v.txt").write_text("Jump/c.avi 0\n")
    manifest, failures = ingest("mmaction2", tmp_path / "videos", lists=[[tmp_path / "t.txt", tmp_path / "v.txt"]])
    assert len(manifest) == 2
    assert reasons(failures) == {"Jump/extra.avi": "skipped: no file list line names it"}


def test_the_summary_counts_listed_used_failed_and_skipped(tmp_path, root, put_video) -> None:
    (root / "Beta" / "v_b1.avi").write_text("not a video")  # listed, undecodable
    put_video(root / "Beta" / "v_b2.avi")  # named by no list: skipped
    train = ["Alpha/v_a1.avi 1", "Alpha/v_a2.avi 1", "Beta/v_b1.avi 2", "Beta/v_gone.avi 2"]
    splits = ucf_splits(tmp_path / "s", train, encode=lambda text: text.encode("utf-16"))  # a warning: a note
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert failures.attrs["counts"] == {"listed": 4, "used": 2, "failed": 2, "skipped": 1}
