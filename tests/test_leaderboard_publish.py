"""``codecbench leaderboard``: BD-rate table, views (md, html, json), validate and merge."""

import json
import re

import pandas as pd
import pytest

from helpers import run_cli

pytestmark = pytest.mark.no_frameworks


@pytest.fixture(scope="module")
def classical_run(tmp_path_factory):
    """A real run: JPEG (anchor), WebP and JPEG 2000 at four rates on small photo crops."""
    import numpy as np
    from PIL import Image

    from codecbench.api.images import load_rgb
    from codecbench.datasets.builtin import SAMPLE_DIR

    root = tmp_path_factory.mktemp("classical")
    photos = root / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "chelsea.png", "tulips.png"):
        Image.fromarray(np.ascontiguousarray(load_rgb((SAMPLE_DIR / name).with_suffix(".webp"))[:176, :192])).save(
            photos / name)
    out = root / "run"
    args = ["run", "--dataset", str(photos), "--out", str(out), "--no-progress",
            "--metric", "bpp", "--metric", "psnr", "--metric", "psnr-y",
            "--metric", "ms-ssim-db", "--metric", "ms-ssim"]
    args += ["--codec", "jpeg", "--codec", "webp", "--codec", "jpeg2000"]
    # each codec runs the listed qualities it has: JPEG/WebP 20–95, JPEG 2000 0.2–2 bpp
    for quality in ("20", "50", "80", "95", "0.2", "0.5", "1.0", "2.0"):
        args += ["--quality", quality]
    completed = run_cli(*args)
    assert completed.returncode == 0, completed.stderr
    return out


def test_run_then_leaderboard_md_prints_bd_rate_against_jpeg_for_every_codec(classical_run,
                                                                               tmp_path):
    views = tmp_path / "views"
    completed = run_cli("leaderboard", str(classical_run), "--format", "md", "--format", "html",
                        "--format", "json", "--format", "csv", "--out", str(views))
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout
    assert "BD-rate against jpeg (PCHIP" in text
    bd_lines = [line for line in text.splitlines()
                if line.startswith(("| webp", "| jpeg2000"))][:2]
    assert len(bd_lines) == 2
    for line in bd_lines:  # BD-rate and BD of three metrics: a number or an explained blank
        cells = [cell.strip() for cell in line.strip("|").split("|")][2:]
        assert len(cells) == 6
        assert all(cell[0] in "+-–" for cell in cells), line
    assert "families at 0.5 bpp" in text and "| classical |" in text
    bd = pd.read_csv(views / "bd.csv")
    assert set(bd["codec"]) == {"webp", "jpeg2000"} and set(bd["anchor"]) == {"jpeg"}
    assert set(bd["metric"]) == {"psnr", "psnr-y", "ms-ssim-db"}
    assert bd["bd_rate_pct"].notna().any()
    assert (bd["bd_rate_pct"].notna() | bd["bd_rate_reason"].notna()).all()
    # HTML: one self-contained file with sortable tables and the plots inline
    page = (views / "leaderboard.html").read_text()
    assert page.count("<svg") == 3 and 'class="sortable"' in page and "<script>" in page
    assert not re.search(r'(src|href)\s*=\s*["\']?https?://', page)  # nothing fetched
    assert "<link" not in page and "<img" not in page
    assert "Provenance" in page and "sha256:" in page
    for metric in ("psnr", "psnr-y", "ms-ssim-db"):
        assert (views / "plots" / f"rd-{classical_run.parent.name}-{metric}.png").exists() or \
            any(views.glob(f"plots/rd-*-{metric}.png"))
    # CompressAI's results format
    record = json.loads(next(views.glob("compressai-json/*/webp.json")).read_text())
    assert record["name"] == "webp" and "webp" in record["description"]
    results = record["results"]
    assert set(results) == {"bpp", "psnr-rgb", "ms-ssim-rgb"}
    assert len(results["bpp"]) == len(results["psnr-rgb"]) == 4
    assert results["bpp"] == sorted(results["bpp"])
    assert all(0 < v < 1 for v in results["ms-ssim-rgb"])


def test_an_exported_leaderboard_validates(classical_run):
    for name in ("leaderboard.csv", "rows.csv"):
        completed = run_cli("leaderboard", "validate", str(classical_run / name))
        assert completed.returncode == 0, completed.stdout
        assert completed.stdout.strip().endswith(": ok")


def _good_leaderboard(classical_run) -> pd.DataFrame:
    return pd.read_csv(classical_run / "leaderboard.csv", dtype=str, keep_default_na=False)


def test_validate_names_what_is_wrong_in_crafted_csvs(classical_run, tmp_path):
    good = _good_leaderboard(classical_run)
    cases = {
        "missing-column": (good.drop(columns=["n_images"]), "missing column(s) n_images"),
        "duplicate": (pd.concat([good, good.iloc[[0]]]), "duplicate of an earlier row"),
        "injection": (good.assign(codec=["=HYPERLINK(\"http://x\")"] + list(good.codec[1:])),
                      "would run as a formula in a spreadsheet"),
        "negative-bpp": (good.assign(bpp=["-0.5"] + list(good.bpp[1:])), "negative value -0.5"),
        "psnr": (good.assign(psnr=["-5"] + list(good.psnr[1:])),
                 "negative value -5 (psnr's valid range [0, inf])"),
        "inf-bpp": (good.assign(bpp=["inf"] + list(good.bpp[1:])), "inf is not finite"),
        "not-a-number": (good.assign(bpp=["abc"] + list(good.bpp[1:])), "'abc' is not a number"),
        "old-schema": (good.drop(columns=["schema_version"]), "missing column(s) schema_version"),
    }
    for name, (frame, expected) in cases.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        completed = run_cli("leaderboard", "validate", str(path))
        assert completed.returncode == 1, name
        assert expected in completed.stdout, (name, completed.stdout)
    # a finite PSNR above what the image's size allows (192×176: 98.2 dB)
    rows = pd.read_csv(classical_run / "rows.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "psnr-rows.csv"
    rows.assign(psnr=["120.5"] + list(rows.psnr[1:])).to_csv(path, index=False)
    completed = run_cli("leaderboard", "validate", str(path))
    assert completed.returncode == 1
    assert "120.5 dB on a lossy row: an 8-bit 192×176 RGB image has at most 98.19 dB" \
        in completed.stdout, completed.stdout
    # the row number is the spreadsheet's data row
    path = tmp_path / "negative-bpp.csv"
    assert "row 1, column 'bpp': negative value" in run_cli("leaderboard", "validate",
                                                           str(path)).stdout


def test_merge_keeps_provenance_and_flags_versions_and_dataset_contents(classical_run,
                                                                         tmp_path):
    good = _good_leaderboard(classical_run)
    machine_b = tmp_path / "b"
    machine_b.mkdir()
    other = good[good.codec == "webp"].assign(codec_version="libwebp 9.9 (other machine)")
    other = pd.concat([other, good[good.codec == "jpeg"].assign(dataset_hash="sha256:other")])
    other.to_csv(machine_b / "leaderboard.csv", index=False)
    merged_path = tmp_path / "merged.csv"
    completed = run_cli("leaderboard", "merge", str(classical_run), str(machine_b),
                        str(classical_run / "leaderboard.csv"), "-o", str(merged_path))
    assert completed.returncode == 0, completed.stderr
    merged = pd.read_csv(merged_path, dtype=str, keep_default_na=False)
    assert len(merged) == len(good) + len(other)  # the third input repeats the first: dropped
    assert "came from an earlier input" in completed.stderr
    assert "codec webp has 2 versions" in completed.stderr
    assert "has 2 contents (hashes)" in completed.stderr
    webp = merged[merged.codec == "webp"]
    assert set(webp["codec_version"]) == {good[good.codec == "webp"].codec_version.iloc[0],
                                          "libwebp 9.9 (other machine)"}
    assert (webp["conflict"].str.contains("2 versions")).all()
    assert set(merged["source"]) == {str(classical_run / "leaderboard.csv"),
                                     str(machine_b / "leaderboard.csv")}
    mine = merged[merged.source == str(classical_run / "leaderboard.csv")]
    assert (mine["source_machine"] != "").all()  # run.json next to it
    strict = run_cli("leaderboard", "merge", str(classical_run), str(machine_b), "-o",
                     str(tmp_path / "strict.csv"), "--strict")
    assert strict.returncode == 1
    assert run_cli("leaderboard", "validate", str(merged_path)).returncode == 0


def test_merge_refuses_csvs_without_a_schema_version(classical_run, tmp_path):
    path = tmp_path / "old.csv"
    _good_leaderboard(classical_run).drop(columns=["schema_version"]).to_csv(path, index=False)
    completed = run_cli("leaderboard", "merge", str(path), "-o", str(tmp_path / "m.csv"))
    assert completed.returncode != 0 and "no schema_version column" in completed.stderr
