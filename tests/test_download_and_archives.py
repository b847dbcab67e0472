"""Downloads and archive extraction against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from codecbench.datasets.archives import UnsafeArchiveError, extract
from codecbench.datasets.cache import data_dir
from codecbench.datasets.download import ChecksumError, DownloadError, download

pytestmark = pytest.mark.no_frameworks


def test_download_verifies_and_is_atomic(server, tmp_path):
    body = os.urandom(300_000)
    server.files["/a.bin"] = body
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    target = tmp_path / "cache" / "a.bin"
    assert download(server.url("/a.bin"), target, checksum=digest, progress=False) == digest
    md5 = "md5:" + hashlib.md5(body).hexdigest()
    assert download(server.url("/a.bin"), tmp_path / "b.bin", checksum=md5, progress=False)
    assert target.read_bytes() == body and not (tmp_path / "cache" / "a.bin.part").exists()


def test_checksum_mismatch_is_refused_and_nothing_looks_complete(server, tmp_path):
    server.files["/a.bin"] = b"tampered"
    target = tmp_path / "a.bin"
    with pytest.raises(ChecksumError, match="expected sha256:00"):
        download(server.url("/a.bin"), target, checksum="sha256:" + "00" * 32, progress=False)
    assert not target.exists() and not (tmp_path / "a.bin.part").exists()


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    body = os.urandom(500_000)
    server.files["/big.bin"] = body
    target = tmp_path / "big.bin"
    server.cut_after = 123_456
    with pytest.raises(DownloadError, match="big.bin"):
        download(server.url("/big.bin"), target, checksum="sha256:" + hashlib.sha256(body).hexdigest(),
                 progress=False)
    partial = tmp_path / "big.bin.part"
    assert not target.exists() and partial.stat().st_size == 123_456
    server.cut_after = None
    download(server.url("/big.bin"), target, checksum="sha256:" + hashlib.sha256(body).hexdigest(),
             progress=False)
    assert server.ranges_seen == ["bytes=123456-"]
    assert target.read_bytes() == body


def test_server_down_names_the_url(tmp_path):
    with pytest.raises(DownloadError, match=r"cannot download http://127\.0\.0\.1:9/x\.zip"):
        download("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", progress=False)


def test_missing_file_is_an_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url("/nope.zip"), tmp_path / "nope.zip", progress=False)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            bundle.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize("make", [_zip, _tar])
def test_safe_archives_extract(tmp_path, make):
    archive = tmp_path / "ok.archive"
    archive.write_bytes(make({"set/a.png": b"1", "set/sub/b.png": b"22"}))
    files = extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == [
        "set/a.png", "set/sub/b.png"]
    assert (tmp_path / "out" / "set" / "sub" / "b.png").read_bytes() == b"22"


@pytest.mark.parametrize("name", ["../evil.png", "set/../../evil.png", "/abs/evil.png"])
@pytest.mark.parametrize("make", [_zip, _tar])
def test_zip_slip_is_refused_before_writing(tmp_path, make, name):
    archive = tmp_path / "evil.archive"
    archive.write_bytes(make({"set/fine.png": b"1", name: b"x"}))
    with pytest.raises(UnsafeArchiveError, match="evil.png"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.png").exists()
    assert not (tmp_path / "out" / "set" / "fine.png").exists()


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "link.tar.gz"
    archive.write_bytes(_tar({"set/a.png": b"1"}, link=("set/passwd", "/etc/passwd")))
    with pytest.raises(UnsafeArchiveError, match="is a link"):
        extract(archive, tmp_path / "out")


def test_data_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CODECBENCH_DATA", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv("CODECBENCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "codecbench"
