"""CSV round trips (quoting, formula neutralisation) and ``leaderboard validate``'s rules."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

import codecs_for_tests as tc
from codecbench.api.images import load_rgb
from codecbench.api.registry import Registry
from codecbench.cli.main import build_cli
from codecbench.datasets.builtin import SAMPLE_DIR
from codecbench.datasets.folder import FolderDataset
from codecbench.harness.csv_export import write_csv
from codecbench.harness.runner import run_evaluation
from codecbench.report.merge import MergeError, merge_leaderboards
from codecbench.report.validate import validate_file, validate_frame

pytestmark = pytest.mark.no_frameworks

CR_MESSAGE = "first line\rsecond line"

# (cell as given, whether a spreadsheet would run it as a formula)
HOSTILE = [
    ("a\rb", False), ("a\nb", False), ("a\r\nb", False), ("\r", True), ("\n", False),
    ('say "hi"', False), ("a,b", False), ('",\r\n"', False), ("x\u2028y", False),
    ("=1+2", True), ("+1", True), ("-1", True), ("@SUM(A1)", True),
    (" =1+2", True), ("   +1", True), ("\t=1", True), ("\r=1", True), ("\n=1", True),
    ("\n-1", True), ("\u00a0=1", True), ("\u2003@x", True), ("\u3000-1", True),
    ("\uff1d1+1", True), ("\uff0b1", True), ("\uff0d1", True), ("\uff20x", True),
    ("\u200b=1", True), ("\u200c+1", True), ("\u200d-1", True), ("\u2060@x", True),
    ("\ufeff=1", True), ("\u200b \u00a0=1", True),
    ("\tplain", True), ("\rplain", True),
    ("plain", False), ("a=b", False), ("'=already", False), ("", False),
]


def _run_cli(*args):
    result = CliRunner().invoke(build_cli(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _expected(text: str, formula: bool) -> str:
    return "'" + text if formula else text


def test_write_csv_quotes_and_neutralises_every_hostile_text_cell(tmp_path):
    texts = [text for text, _ in HOSTILE]
    frame = pd.DataFrame({"codec": texts, "bpp": np.linspace(0.25, 2.0, len(texts)),
                          "n_images": range(len(texts)), "error": texts})
    frame.loc[1, "bpp"] = np.nan
    path = write_csv(frame, tmp_path / "hostile.csv")
    back = pd.read_csv(path, dtype={"codec": str, "error": str}, keep_default_na=False)
    assert len(back) == len(HOSTILE)
    with open(path, newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    assert len(records) == len(HOSTILE) + 1
    for (text, formula), read, record in zip(HOSTILE, back.itertuples(), records[1:],
                                             strict=True):
        assert read.codec == _expected(text, formula), repr(text)
        assert read.error == _expected(text, formula), repr(text)
        assert record[0] == record[3] == _expected(text, formula), repr(text)
    assert back["n_images"].tolist() == list(range(len(HOSTILE)))
    assert back["bpp"].iloc[0] == "0.25" and back["bpp"].iloc[1] == ""
    raw = path.read_bytes().decode()
    plain = texts.index("plain")
    # plain text and numbers are written bare
    assert f"\nplain,{frame.bpp[plain]:.10g},{plain},plain\n" in raw
    assert ",,1," in raw  # an empty cell is empty, not quoted
    # and every file holds no formula a validator would report
    assert not [p for p in validate_file(path) if "formula" in str(p)]


def test_write_csv_neutralises_and_quotes_column_names(tmp_path):
    names = [text or "blank" for text, _ in HOSTILE if text not in ("\r", "\n")]
    frame = pd.DataFrame([list(range(len(names)))], columns=names)
    path = write_csv(frame, tmp_path / "names.csv")
    back = pd.read_csv(path)
    expected = {text or "blank": _expected(text or "blank", formula)
                for text, formula in HOSTILE}
    assert list(back.columns) == [expected[name] for name in names]
    assert len(back) == 1 and back.iloc[0].tolist() == list(range(len(names)))


class FailsWithCarriageReturn(tc.LosslessZlib):
    """Lossless at quality 1 (PSNR inf); at quality 9 an error whose message holds a CR."""

    name = "test/cr-error"

    def encode(self, image, quality):
        if int(quality) == 9:
            raise RuntimeError(CR_MESSAGE)
        return super().encode(image, quality)


@pytest.fixture(scope="module")
def cr_run(tmp_path_factory):
    """A real run: three images (one named with a CR where the filesystem allows it), two
    qualities, the error of every quality-9 task holding a CR."""
    root = tmp_path_factory.mktemp("cr")
    photos = root / "photos"
    photos.mkdir()
    names = ["astronaut.png", "chelsea.png", "tu\rlips.png"]
    for name in names:
        source = name.replace("\r", "")
        image = np.ascontiguousarray(load_rgb((SAMPLE_DIR / source).with_suffix(".webp"))[:40, :48])
        try:
            Image.fromarray(image).save(photos / name)
        except OSError:  # a filesystem without CR in names: the error message still has one
            Image.fromarray(image).save(photos / source)
    registry = Registry(strict=True)
    registry.load_entry_points(only=["metrics-basic"])
    out = root / "run"
    summary = run_evaluation([FailsWithCarriageReturn()], FolderDataset(photos),
                             registry.metrics(), out, qualities=["1", "9"], progress=False,
                             executor="in-process")
    assert summary.errors == 3
    return out


def test_a_run_whose_error_and_file_name_hold_a_cr_reads_back_and_validates(cr_run):
    rows = pd.read_csv(cr_run / "rows.csv", dtype=str, keep_default_na=False)
    assert len(rows) == 6
    with open(cr_run / "rows.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.reader(handle))) == 7
    errors = rows[rows.quality == "9"]["error"]
    assert len(errors) == 3 and all(CR_MESSAGE in e for e in errors)
    image_ids = set(rows["image_id"])
    assert len(image_ids) == 3
    assert image_ids >= {"astronaut.png", "chelsea.png"}
    assert (rows[rows.quality == "1"]["psnr"] == "inf").all()  # lossless: legitimately inf
    board = pd.read_csv(cr_run / "leaderboard.csv", dtype=str, keep_default_na=False)
    assert len(board) == 2
    for name in ("rows.csv", "leaderboard.csv"):
        assert not [p for p in validate_file(cr_run / name) if not getattr(p, "note", False)]
    result = _run_cli("leaderboard", "validate", str(cr_run / "rows.csv"))
    assert result.exit_code == 0, result.output


def test_validate_accepts_a_run_folder_and_uses_its_run_json_specs(cr_run, tmp_path):
    result = _run_cli("leaderboard", "validate", str(cr_run))
    assert result.exit_code == 0, result.output
    assert f"{cr_run / 'rows.csv'}: ok" in result.output
    assert f"{cr_run / 'leaderboard.csv'}: ok" in result.output
    # run.json's specs come before the installed ones: a PSNR recorded as never infinite
    copy = tmp_path / "run"
    shutil.copytree(cr_run, copy)
    record = json.loads((copy / "run.json").read_text())
    for metric in record["metrics"]:
        if metric["name"] == "psnr":
            metric["allows_infinity"] = False
    (copy / "run.json").write_text(json.dumps(record))
    result = _run_cli("leaderboard", "validate", str(copy))
    assert result.exit_code == 1
    assert "column 'psnr': 3 values are not finite (first inf) (psnr allows no infinity)" \
        in result.output


def _leaderboard(n: int = 3) -> pd.DataFrame:
    """A sound schema-3 leaderboard, every cell text (as validate reads it)."""
    records = []
    for i in range(n):
        records.append({
            "schema_version": "3", "dataset_hash": "sha256:abc", "dataset": "sample",
            "codec": f"codec{i}", "codec_version": "1", "framework": "pillow",
            "family": "classical", "quality": "50", "bytes": "1234.5", "bpp": "0.75",
            "psnr": "31.5", "ms-ssim": "0.95", "ms-ssim-db": "13.01", "encode_s": "0.01",
            "decode_s": "0.002", "n_images": "6", "n_errors": "0", "n_psnr": "6",
            "n_ms-ssim": "6", "n_ms-ssim-db": "5",
        })
    return pd.DataFrame(records, dtype=object)


def _failures(frame: pd.DataFrame) -> list[str]:
    return [str(p) for p in validate_frame(frame) if not getattr(p, "note", False)]


def _with(column: str, value: str, row: int = 0, frame=None) -> pd.DataFrame:
    frame = _leaderboard() if frame is None else frame.copy()
    frame.loc[row, column] = value
    return frame


def test_the_crafted_leaderboard_is_sound():
    assert _failures(_leaderboard()) == []
    assert _failures(_with("psnr", "inf")) == []  # a mean over a lossless image
    assert _failures(_with("ms-ssim-db", "inf")) == []
    assert _failures(_with("n_errors", "9")) == []  # more failed than measured: possible
    assert _failures(_with("ms-ssim", "")) == []  # an absent value is an empty cell


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("bpp", "inf", "row 1, column 'bpp': inf is not finite"),
    ("bpp", "1e309", "row 1, column 'bpp': 1e309 is not finite (beyond the float range)"),
    ("psnr", "-3.5", "row 1, column 'psnr': negative value -3.5 (psnr's valid range [0, inf])"),
    ("psnr", "-inf", "row 1, column 'psnr': negative value -inf"),
    ("ms-ssim-db", "-0.5", "row 1, column 'ms-ssim-db': negative value -0.5 (ms-ssim-db's "
                           "valid range [0, inf])"),
    ("n_psnr", "7", "row 1, column 'n_psnr': 7 is above n_images"),
    ("n_psnr", "2.5", "row 1, column 'n_psnr': 2.5 is not a whole number"),
    ("n_psnr", "-1", "row 1, column 'n_psnr': negative value -1"),
    ("n_images", "inf", "row 1, column 'n_images': inf is not finite"),
])
def test_validate_rejects_impossible_values(column, value, expected):
    failures = _failures(_with(column, value))
    assert any(expected in f for f in failures), failures


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("psnr", "NaN", "row 1, column 'psnr': 'NaN' is no value: an absent value is an empty "
                    "cell"),
    ("bpp", "nan", "row 1, column 'bpp': 'nan' is no value"),
    ("bytes", "-inf", "row 1, column 'bytes': -inf is not finite"),
    ("ms-ssim", "inf", "row 1, column 'ms-ssim': inf is not finite (ms-ssim allows no "
                       "infinity)"),
    ("ms-ssim", "1.5", "row 1, column 'ms-ssim': 1.5 is above 1 (ms-ssim's valid range "
                       "[0, 1])"),
])
def test_validate_names_the_rule_a_value_breaks(column, value, expected):
    failures = _failures(_with(column, value))
    assert failures == [expected] or any(expected in f for f in failures), failures
    assert len(failures) == 1, failures


def test_validate_rejects_means_over_no_image():
    over_nothing = _with("n_psnr", "0")
    assert any("row 1, column 'psnr': 31.5 with n_psnr 0 (a mean over no image)" in f
               for f in _failures(over_nothing))
    no_images = _leaderboard()
    no_images.loc[0, ["n_images", "n_errors", "n_psnr", "n_ms-ssim", "n_ms-ssim-db"]] = "0"
    failures = _failures(no_images)
    assert "row 1: n_images and n_errors are 0 (a row groups at least one task)" in failures
    assert "row 1: n_images is 0 but the row holds a mean (no image was measured)" in failures
    only_errors = no_images.copy()
    only_errors.loc[0, "n_errors"] = "3"
    only_errors.loc[0, ["bytes", "bpp", "psnr", "ms-ssim", "ms-ssim-db", "encode_s",
                        "decode_s"]] = ""
    assert _failures(only_errors) == []  # a group whose tasks all failed


def test_validate_counts_every_problem_of_a_column():
    frame = _leaderboard(12)
    frame["psnr"] = [f"-{i + 1}" for i in range(12)]
    frame.loc[[3, 7], "ms-ssim-db"] = "-2"
    failures = _failures(frame)
    assert ("column 'psnr': 12 values below 0 (first -1) (psnr's valid range [0, inf]) "
            "(rows 1, 2, 3, 4, 5 and 7 more)") in failures
    assert ("column 'ms-ssim-db': 2 values below 0 (first -2) (ms-ssim-db's valid range "
            "[0, inf]) (rows 4, 8)") in failures
    assert len(failures) == 2


def test_validate_checks_rows_against_their_image(cr_run):
    rows = pd.read_csv(cr_run / "rows.csv", dtype=str, keep_default_na=False)
    assert _failures(rows) == []
    lossless = rows.index[rows.quality == "1"]
    negative = rows.copy()
    negative.loc[lossless, "psnr"] = "-3"
    assert ("column 'psnr': 3 values below 0 (first -3) (psnr's valid range [0, inf]) "
            f"(rows {', '.join(str(i + 1) for i in lossless)})") in _failures(negative)
    too_high = rows.copy()
    too_high.loc[lossless[0], "psnr"] = "99.5"  # a 48×40 image has at most 85.7 dB
    assert any("99.5 dB on a lossy row: an 8-bit 48×40 RGB image has at most 85.74 dB" in f
               for f in _failures(too_high))
    wrong_rate = rows.copy()
    wrong_rate.loc[lossless[0], "bpp"] = "1.5"
    assert any("'bpp': 1.5 is not 8 × bytes / (width × height)" in f
               for f in _failures(wrong_rate))
    failed = rows.index[rows.quality == "9"][0]
    measured_error = rows.copy()
    measured_error.loc[failed, "bytes"] = "100"
    assert f"row {failed + 1}: a row with an error holds a measurement (its numeric cells " \
           "are empty)" in _failures(measured_error)
    zero_width = rows.copy()
    zero_width.loc[failed, "width"] = "0"
    assert f"row {failed + 1}, column 'width': 0 is not positive" in _failures(zero_width)


def test_an_unknown_metric_column_is_a_note_and_checked_for_finiteness(tmp_path):
    frame = _leaderboard().assign(**{"my-metric": ["1.5", "-2", "inf"]})
    path = tmp_path / "board.csv"
    frame.to_csv(path, index=False)
    result = _run_cli("leaderboard", "validate", str(path))
    assert result.exit_code == 1
    assert "row 3, column 'my-metric': inf is not finite" in result.output
    assert "note: column 'my-metric': unknown metric column, range not checked" \
        in result.output
    frame.loc[2, "my-metric"] = "3"
    frame.to_csv(path, index=False)
    result = _run_cli("leaderboard", "validate", str(path))
    assert result.exit_code == 0, result.output
    assert "unknown metric column, range not checked" in result.output


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("latin-1", "schema_version,codec\n3,caf\xe9\n".encode("latin-1"),
     "not UTF-8 text: byte 0xe9 at offset 26"),
    ("empty", b"", "empty file: no header row"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file (NUL bytes)"),
    ("ragged-short", b"schema_version,codec,bpp\n3,jpeg\n3,webp,0.5\n",
     "ragged rows: 1 row(s) do not have the header's 3 fields: row 1 (2 fields)"),
    ("ragged-long", b"schema_version,codec,bpp\n3,jpeg,0.5,9\n", "ragged rows"),
    ("unclosed-quote", b'schema_version,codec\n3,"jpeg\n', "malformed CSV"),
])
def test_an_unreadable_file_is_one_problem_line_and_exit_1(tmp_path, name, content, expected):
    path = _write(tmp_path / f"{name}.csv", content)
    result = _run_cli("leaderboard", "validate", str(path))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{path}: 1 problem(s)", result.output
    assert len(lines) == 2 and expected in lines[1], result.output


def test_merge_keeps_per_metric_counts_and_hostile_text(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    first = _leaderboard(2)
    first.loc[0, "codec"] = "evil\rcodec"
    write_csv(first, a)
    second = _leaderboard(2).drop(columns=["ms-ssim", "n_ms-ssim"])
    second["dataset"] = "other"
    second.loc[1, "codec"] = "=cmd()"
    write_csv(second, b)
    merged, findings = merge_leaderboards([a, b])
    assert findings == []
    out = write_csv(merged, tmp_path / "merged.csv")
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(back) == 4
    assert back["codec"].tolist() == ["evil\rcodec", "codec1", "codec0", "'=cmd()"]
    assert back["n_ms-ssim"].tolist() == ["6", "6", "", ""]
    assert back["n_psnr"].tolist() == ["6"] * 4
    assert [str(p) for p in validate_file(out) if not getattr(p, "note", False)] == []
    rows = tmp_path / "rows.csv"
    write_csv(pd.DataFrame({"schema_version": [3], "image_id": ["x"]}), rows)
    with pytest.raises(MergeError, match="a rows.csv"):
        merge_leaderboards([rows])


def test_validate_reads_quoted_line_breaks_as_one_row(tmp_path):
    frame = _with("codec", "two\rlines")
    frame.loc[1, "codec"] = "two\nlines"
    path = write_csv(frame, tmp_path / "board.csv")
    assert [str(p) for p in validate_file(path)] == []


def test_a_nul_character_is_written_as_the_replacement_character(tmp_path):
    path = write_csv(pd.DataFrame({"error": ["x\x00y"], "bpp": [0.5]}), tmp_path / "nul.csv")
    assert b"\x00" not in path.read_bytes()
    back = pd.read_csv(path)
    assert back["error"].tolist() == ["x\ufffdy"] and back["bpp"].tolist() == [0.5]
