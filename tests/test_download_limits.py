"""Downloads and extraction stay bounded against hostile servers and archives (127.0.0.1).

Each test lowers the caps and timeouts through their environment variables, so that an
endless body, a drip-feeding server, a mismatched range answer or a zip bomb is refused
within about a second, and checks that nothing refused is kept or trusted.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler

import pytest
from click.testing import CliRunner

from codecbench.datasets import archives as archives_module
from codecbench.datasets import download as download_module
from codecbench.datasets.archives import UnsafeArchiveError, extract
from codecbench.datasets.catalog import RemoteFile, RemoteSpec
from codecbench.datasets.download import ChecksumError, DownloadError, download
from codecbench.datasets.remote import DatasetUnavailableError, RemoteDataset
from http_files import LocalServer

pytestmark = pytest.mark.no_frameworks

MB = 1_000_000


class HostileServer(LocalServer):
    """Serves ``routes`` (path -> handler function) on 127.0.0.1.

    A route is called with the request handler and writes whatever it likes; every route
    stops on its own after a few seconds at most, so a client that is not bounded makes the
    test fail rather than hang.
    """

    def __init__(self):
        self.routes = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should
                self.close_connection = True

        self.serve(Handler, poll_interval=0.05, block_on_close=False)


@pytest.fixture
def hostile():
    running = HostileServer()
    yield running
    running.close()


# -- route builders -------------------------------------------------------------------------


def endless(limit: int = 6 * MB):
    """200 without a length, then zeros until the client leaves (or ``limit`` bytes)."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        block = b"\0" * 65536
        for _ in range(limit // len(block)):
            handler.wfile.write(block)
    return route


def announces(length: int, body: bytes):
    """200 announcing ``length`` bytes (then sending ``body``)."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(body)
    return route


def drip(body: bytes, every: float, header_drip: bool = False):
    """One byte of ``body`` every ``every`` seconds (of a header first, with header_drip)."""
    def route(handler):
        if header_drip:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(40):
                handler.wfile.write(b"a")
                handler.wfile.flush()
                time.sleep(every)
            handler.wfile.write(f"\r\nContent-Length: {len(body)}\r\n\r\n".encode())
            handler.wfile.write(body)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for i in range(len(body)):
            handler.wfile.write(body[i:i + 1])
            handler.wfile.flush()
            time.sleep(every)
    return route


def ranged(body: bytes, answer: str):
    """Answers a Range request with ``answer``: how a broken server gets resuming wrong."""
    def route(handler):
        asked = handler.headers.get("Range")
        if not asked:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        start = int(asked.split("=")[1].split("-")[0])
        if answer == "416-bare":
            handler.send_response(416)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if answer == "200-whole":
            handler.send_response(200)
            payload = body
        else:
            handler.send_response(206)
            if answer == "206-whole-no-range":
                payload = body
            elif answer == "206-whole-range-from-0":
                handler.send_header("Content-Range", f"bytes 0-{len(body) - 1}/{len(body)}")
                payload = body
            elif answer == "206-wrong-total":
                handler.send_header("Content-Range",
                                    f"bytes {start}-{len(body) - 1}/{len(body) + 7}")
                payload = body[start:]
            else:
                raise AssertionError(answer)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    return route


def serve(body: bytes):
    return announces(len(body), body)


# -- helpers --------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def quick(monkeypatch):
    """Small caps and short timeouts for every test of this file."""
    monkeypatch.setenv("CODECBENCH_MAX_DOWNLOAD_BYTES", str(1 * MB))
    monkeypatch.setenv("CODECBENCH_DOWNLOAD_STALL_S", "0.4")
    monkeypatch.setenv("CODECBENCH_DOWNLOAD_DEADLINE_S", "1.5")
    return monkeypatch


# -- size caps ------------------------------------------------------------------------------


def test_an_endless_body_stops_at_the_cap_and_is_deleted(hostile, tmp_path, quick):
    hostile.routes["/a.bin"] = endless()
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"more than the cap of 1000000 bytes") as error:
        download(hostile.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert time.monotonic() - start < 5
    assert isinstance(error.value, download_module.DownloadTooLargeError)
    assert "CODECBENCH_MAX_DOWNLOAD_BYTES" in str(error.value)
    assert _leftovers(tmp_path) == []


def test_an_announced_length_over_the_cap_is_refused_before_reading(hostile, tmp_path, quick):
    hostile.routes["/a.bin"] = announces(50 * MB, b"\0" * (2 * MB))
    with pytest.raises(DownloadError, match=r"announces 50000000 bytes, more than the cap"):
        download(hostile.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert _leftovers(tmp_path) == []


def test_the_expected_size_is_the_cap_and_must_match(hostile, tmp_path, quick):
    quick.setenv("CODECBENCH_MAX_DOWNLOAD_BYTES", str(100 * MB))
    hostile.routes["/endless.bin"] = endless()
    with pytest.raises(DownloadError, match=r"more than the expected size of 5000 bytes"):
        download(hostile.url("/endless.bin"), tmp_path / "a.bin", progress=False, size=5000)
    hostile.routes["/short.bin"] = serve(b"x" * 4000)
    with pytest.raises(DownloadError, match=r"announces 4000 bytes, expected 5000"):
        download(hostile.url("/short.bin"), tmp_path / "b.bin", progress=False, size=5000)
    assert _leftovers(tmp_path) == []
    hostile.routes["/right.bin"] = serve(b"y" * 5000)
    download(hostile.url("/right.bin"), tmp_path / "c.bin", progress=False, size=5000)
    assert (tmp_path / "c.bin").read_bytes() == b"y" * 5000


# -- time bounds ----------------------------------------------------------------------------


def test_a_stalled_body_times_out(hostile, tmp_path, quick):
    hostile.routes["/a.bin"] = drip(b"12345678", every=0.8)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"no data for 0\.4 s") as error:
        download(hostile.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert time.monotonic() - start < 3
    assert isinstance(error.value, download_module.DownloadTimeoutError)
    assert "CODECBENCH_DOWNLOAD_STALL_S" in str(error.value)
    assert not (tmp_path / "a.bin").exists()  # at most the resumable .part remains


@pytest.mark.parametrize("header_drip", [False, True], ids=["body", "headers"])
def test_a_drip_fed_download_ends_at_the_deadline(hostile, tmp_path, quick, header_drip):
    hostile.routes["/a.bin"] = drip(b"x" * 40, every=0.15, header_drip=header_drip)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"not finished after 1\.5 s") as error:
        download(hostile.url("/a.bin"), tmp_path / "a.bin", progress=False)
    elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 3.5
    assert "CODECBENCH_DOWNLOAD_DEADLINE_S" in str(error.value)
    assert not (tmp_path / "a.bin").exists()


# -- resuming -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["206-whole-no-range", "206-whole-range-from-0", "416-bare",
                                    "200-whole"])
def test_a_resumed_body_is_appended_only_when_its_range_matches(hostile, tmp_path, answer):
    body = os.urandom(200_000)
    hostile.routes["/a.bin"] = ranged(body, answer)
    target = tmp_path / "a.bin"
    # a partial file from an earlier attempt: the first 50 000 bytes, or (416) as many bytes
    # as the whole file but wrong ones, which a bare "nothing left" answer cannot vouch for
    partial = tmp_path / "a.bin.part"
    partial.write_bytes(b"\xff" * len(body) if answer == "416-bare" else body[:50_000])
    digest = download(hostile.url("/a.bin"), target, progress=False)
    assert target.read_bytes() == body
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert hostile.requests[0]["range"] is not None and not partial.exists()


def test_a_range_with_the_wrong_total_is_never_appended(hostile, tmp_path):
    body = os.urandom(200_000)
    hostile.routes["/a.bin"] = ranged(body, "206-wrong-total")
    (tmp_path / "a.bin.part").write_bytes(body[:50_000])
    with pytest.raises(DownloadError, match=rf"announces {len(body)} bytes, expected "
                                            rf"{len(body) + 7}"):
        download(hostile.url("/a.bin"), tmp_path / "a.bin", progress=False,
                 size=len(body) + 7)
    assert [r["range"] for r in hostile.requests] == ["bytes=50000-", None]
    assert _leftovers(tmp_path) == []


# -- extraction caps ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_zip, _tar_gz], ids=["zip", "tar.gz"])
def test_a_compression_bomb_is_refused_and_nothing_stays(tmp_path, make):
    archive = tmp_path / "bomb.archive"
    archive.write_bytes(make({"set/a.png": b"1", "set/zeros.png": b"\0" * (4 << 20)}))
    assert archive.stat().st_size < 40_000
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"expands .* more than 200 times") as error:
        extract(archive, out)
    assert isinstance(error.value, archives_module.ArchiveLimitError)
    assert "CODECBENCH_MAX_COMPRESSION_RATIO" in str(error.value)
    assert not out.exists()
    assert _leftovers(tmp_path) == ["bomb.archive"]  # no staging folder either


def test_the_ratio_cap_can_be_raised(tmp_path, monkeypatch):
    archive = tmp_path / "zeros.zip"
    archive.write_bytes(_zip({"zeros.png": b"\0" * (4 << 20)}))
    with pytest.raises(UnsafeArchiveError, match="more than 200 times"):
        extract(archive, tmp_path / "out")
    monkeypatch.setenv("CODECBENCH_MAX_COMPRESSION_RATIO", "100000")
    assert [p.name for p in extract(archive, tmp_path / "out")] == ["zeros.png"]


@pytest.mark.parametrize("make", [_zip, _tar_gz], ids=["zip", "tar.gz"])
def test_the_total_extracted_size_is_capped(tmp_path, monkeypatch, make):
    monkeypatch.setenv("CODECBENCH_MAX_EXTRACT_BYTES", str(1 * MB))
    archive = tmp_path / "big.archive"
    archive.write_bytes(make({"set/a.png": os.urandom(600_000), "set/b.png": os.urandom(600_000)}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"kept")
    with pytest.raises(UnsafeArchiveError, match=r"extracts to more than 1000000 bytes"):
        extract(archive, out)
    assert _leftovers(out) == ["earlier.png"]  # set/a.png was removed again
    assert _leftovers(tmp_path) == ["big.archive", "out"]
    monkeypatch.setenv("CODECBENCH_MAX_EXTRACT_BYTES", str(2 * MB))
    assert len(extract(archive, out)) == 2 and (out / "set" / "b.png").stat().st_size == 600_000


# -- the dataset pipeline: refused files are deleted and never trusted -----------------------


def _spec(expected: int = 2, checksum: str | None = None) -> RemoteSpec:
    return RemoteSpec(
        name="hostile", version="1", license="test", source="test", description="test",
        files=(RemoteFile("https://example.invalid/set.zip", checksum, archive=True),),
        image_glob="**/*.png", expected_count=expected)


def _recorded(dataset: RemoteDataset) -> dict:
    path = dataset.root / "checksums.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("members", [
    {"set/a.png": b"1", "../evil.png": b"2"},
    {"set/a.png": b"1", "set/zeros.png": b"\0" * (4 << 20)},
], ids=["zip-slip", "bomb"])
def test_a_refused_archive_is_deleted_untrusted_and_fails_verify(hostile, tmp_path, members):
    hostile.routes["/set.zip"] = serve(_zip(members))
    dataset = RemoteDataset(_spec(), base=tmp_path, url_prefix=hostile.url("/"))
    with pytest.raises(UnsafeArchiveError):
        dataset.ensure(progress=False)
    assert _leftovers(dataset.downloads_dir) == []
    assert _recorded(dataset) == {}
    assert not (tmp_path / "evil.png").exists() and _leftovers(dataset.files_dir) == []
    problems = dataset.verify()
    assert any("found 0 files" in p for p in problems), problems
    assert _recorded(dataset) == {}


def test_a_file_spec_size_caps_the_dataset_download(hostile, tmp_path, quick):
    quick.setenv("CODECBENCH_MAX_DOWNLOAD_BYTES", str(100 * MB))
    hostile.routes["/set.zip"] = endless()
    spec = _spec()
    spec = RemoteSpec(**{**spec.__dict__, "files": (RemoteFile(spec.files[0].url, archive=True,
                                                               size=1000),)})
    dataset = RemoteDataset(spec, base=tmp_path, url_prefix=hostile.url("/"))
    with pytest.raises(DatasetUnavailableError, match="more than the expected size of 1000"):
        dataset.ensure(progress=False)
    assert _leftovers(dataset.downloads_dir) == [] and _recorded(dataset) == {}


def test_a_download_that_fails_its_published_checksum_is_deleted(hostile, tmp_path):
    archive = _zip({"set/a.png": b"1", "set/b.png": b"2"})
    hostile.routes["/set.zip"] = serve(archive)
    dataset = RemoteDataset(_spec(checksum="md5:" + hashlib.md5(archive).hexdigest()),
                            base=tmp_path, url_prefix=hostile.url("/"))
    dataset.downloads_dir.mkdir(parents=True)
    (dataset.downloads_dir / "set.zip").write_bytes(b"not the archive")  # placed, but wrong
    with pytest.raises(ChecksumError, match="does not match the published"):
        dataset.ensure(progress=False)
    assert _leftovers(dataset.downloads_dir) == [] and _recorded(dataset) == {}
    dataset.ensure(progress=False)  # fetched again, and now trusted
    assert set(_recorded(dataset)) == {"set.zip"} and dataset.verify() == []


def test_hashes_are_recorded_only_when_the_whole_pipeline_succeeded(hostile, tmp_path):
    hostile.routes["/set.zip"] = serve(_zip({"set/a.png": b"1"}))  # one image of two
    dataset = RemoteDataset(_spec(expected=2), base=tmp_path, url_prefix=hostile.url("/"))
    with pytest.raises(DatasetUnavailableError, match="found 1 files .* expected 2"):
        dataset.ensure(progress=False)
    assert _recorded(dataset) == {}


def test_verify_needs_the_files_and_their_count_not_only_checksums(hostile, tmp_path):
    hostile.routes["/set.zip"] = serve(_zip({"set/a.png": b"1", "set/b.png": b"2"}))
    dataset = RemoteDataset(_spec(), base=tmp_path, url_prefix=hostile.url("/"))
    dataset.ensure(progress=False)
    assert dataset.verify() == []
    (dataset.files_dir / "set" / "b.png").unlink()
    assert any("found 1 files" in p and "expected 2" in p for p in dataset.verify())
    for image in (dataset.files_dir / "set").iterdir():
        image.unlink()
    assert any("found 0 files" in p for p in dataset.verify())


# -- the command line: one line, non-zero, no traceback --------------------------------------


def _cli(*args: str):
    from codecbench.cli.main import build_cli

    result = CliRunner().invoke(build_cli(), list(args))
    uncaught = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output, uncaught


CLIC_MOBILE = "clic2020-mobile-valid"  # one zip, no published checksum, 61 images
CASES = {
    "endless": (lambda: endless(), r"more than the cap of 1000000 bytes"),
    "drip": (lambda: drip(b"12345678", every=0.8), r"no data for 0\.4 s"),
    "bomb": (lambda: serve(_zip({"a.png": b"\0" * (4 << 20)})), r"more than 200 times"),
    "unsafe": (lambda: serve(_zip({"../evil.png": b"x"})), r"escapes the target directory"),
    "not-an-archive": (lambda: serve(b"<html>maintenance</html>"), r"neither a zip nor a tar"),
    "http-404": (None, r"HTTP 404"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_download_failures_are_one_line_errors(hostile, tmp_path, quick, case):
    quick.setenv("CODECBENCH_DATA", str(tmp_path / "cache"))
    quick.setenv("CODECBENCH_MIRROR", hostile.url("/"))
    make, message = CASES[case]
    if make is not None:
        hostile.routes[f"/{CLIC_MOBILE}/mobile_valid_2020.zip"] = make()
    code, output, uncaught = _cli("datasets", "download", CLIC_MOBILE)
    assert uncaught is None, f"uncaught {uncaught!r}"
    assert code != 0
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and "Traceback" not in output, output
    assert len([line for line in lines if line.startswith("Error")]) == 1
    assert _leftovers(tmp_path / "cache" / CLIC_MOBILE / "downloads") in ([], [
        "mobile_valid_2020.zip.part"])  # a stalled download may be resumed, nothing else
    assert not (tmp_path / "cache" / CLIC_MOBILE / "checksums.json").exists()
    assert re.search(message, lines[-1]), lines[-1]
    code, output, uncaught = _cli("datasets", "verify", CLIC_MOBILE)
    assert uncaught is None and code != 0 and output.startswith("Error: "), output
    assert "found 0 files" in output


def test_cli_download_with_a_wrong_published_checksum(hostile, tmp_path, quick):
    name = "clic2020-professional-valid"  # published md5
    quick.setenv("CODECBENCH_DATA", str(tmp_path / "cache"))
    quick.setenv("CODECBENCH_MIRROR", hostile.url("/"))
    hostile.routes[f"/{name}/professional_valid_2020.zip"] = serve(_zip({"a.png": b"1"}))
    code, output, uncaught = _cli("datasets", "download", name)
    assert uncaught is None and code != 0
    last = output.splitlines()[-1]
    assert last.startswith("Error: ") and "expected md5:7111ee" in last, output
    assert _leftovers(tmp_path / "cache" / name / "downloads") == []
    code, output, uncaught = _cli("datasets", "verify", name)
    assert uncaught is None and code != 0 and "found 0 files" in output, output
