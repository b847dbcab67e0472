"""codecbench.api.atomic: readers see the old or the new file, never a partial one."""

from __future__ import annotations

import os
import stat
import threading
import zipfile

import numpy as np
import pytest

from codecbench.api.atomic import atomic_output, atomic_path, atomic_write


class Boom(Exception):
    pass


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_bytes_and_text(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, b"\x00\x01binary\n")
    assert target.read_bytes() == b"\x00\x01binary\n"
    atomic_write(target, "überschrieben\n")  # replaces the old file, UTF-8 by default
    assert target.read_bytes() == "überschrieben\n".encode()
    atomic_write(target, "a\r\nb\n", encoding="latin-1", newline="")
    assert target.read_bytes() == b"a\r\nb\n"
    assert _names(tmp_path) == ["out.bin"]


def test_text_is_written_like_path_write_text(tmp_path):
    atomic_write(tmp_path / "a.txt", "one\ntwo\n")
    (tmp_path / "b.txt").write_text("one\ntwo\n", encoding="utf-8")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_atomic_write_refuses_other_types(tmp_path):
    with pytest.raises(TypeError, match="bytes or str"):
        atomic_write(tmp_path / "x", 3)  # type: ignore[arg-type]
    assert _names(tmp_path) == []


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_failed_stream_leaves_target_untouched_and_no_temp(tmp_path, error):
    target = tmp_path / "data.npz"
    target.write_bytes(b"old contents")
    with pytest.raises(error), atomic_output(target) as handle:
        handle.write(b"half of the new")
        raise error()
    assert target.read_bytes() == b"old contents"
    assert _names(tmp_path) == ["data.npz"]


def test_failed_first_write_creates_nothing(tmp_path):
    with pytest.raises(Boom), atomic_output(tmp_path / "new.csv", "w") as handle:
        handle.write("a,b\n")
        raise Boom()
    assert _names(tmp_path) == []


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_failed_path_writer_leaves_target_untouched_and_no_temp(tmp_path, error):
    target = tmp_path / "weights.safetensors"
    target.write_bytes(b"old weights")
    with pytest.raises(error), atomic_path(target) as partial:
        partial.write_bytes(b"truncated new weigh")
        raise error()
    assert target.read_bytes() == b"old weights"
    assert _names(tmp_path) == ["weights.safetensors"]


def test_a_writer_that_removed_its_temp_fails_without_touching_the_target(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError), atomic_path(target) as partial:
        partial.unlink()
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["t.bin"]


def test_temp_is_in_the_same_directory_and_unique(tmp_path):
    target = tmp_path / "run.json"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        assert first.parent == second.parent == tmp_path
        assert first.name.startswith("run.json.tmp") and "." not in first.name[len("run.json."):]
        first.write_text("first")
        second.write_text("second")
    assert target.read_text() == "first"  # the outer block ends last: its rename wins
    assert _names(tmp_path) == ["run.json"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_file_gets_the_permissions_open_would_give(tmp_path):
    atomic_write(tmp_path / "a", b"x")
    with open(tmp_path / "b", "wb") as handle:
        handle.write(b"x")
    mode = stat.S_IMODE
    assert mode((tmp_path / "a").stat().st_mode) == mode((tmp_path / "b").stat().st_mode)


def test_fsync_option(tmp_path):
    atomic_write(tmp_path / "a", "durable", fsync=True)
    with atomic_path(tmp_path / "b", fsync=True) as partial:
        partial.write_bytes(b"durable")
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "durable"


def test_modes_are_checked(tmp_path):
    with pytest.raises(ValueError, match="mode"), atomic_output(tmp_path / "x", "ab"):
        pass
    with pytest.raises(ValueError, match="text modes"), atomic_output(tmp_path / "x", "wb",
                                                                       encoding="utf-8"):
        pass
    assert _names(tmp_path) == []


def test_concurrent_writers_never_leave_a_partial_file(tmp_path):
    """Two threads rewrite one file over and over while a third reads it: every read is one
    whole version, and no temporary file is left behind."""
    target = tmp_path / "shared.bin"
    size = 256 * 1024
    versions = {bytes([value]) * size for value in (1, 2)}
    atomic_write(target, bytes([0]) * size)
    versions.add(bytes([0]) * size)
    stop = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def writer(value: int, streaming: bool) -> None:
        try:
            for _ in range(60):
                if streaming:
                    with atomic_output(target) as handle:
                        for _ in range(size // 4096):  # many small writes: slow, interleaved
                            handle.write(bytes([value]) * 4096)
                else:
                    atomic_write(target, bytes([value]) * size)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data not in versions:
                seen.append(data)

    threads = [threading.Thread(target=writer, args=(1, True)),
               threading.Thread(target=writer, args=(2, False))]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert not errors
    assert not seen, f"a reader saw a partial file ({len(seen[0])} bytes)"
    assert target.read_bytes() in versions
    assert _names(tmp_path) == ["shared.bin"]


def test_path_form_with_a_writer_that_takes_a_path(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    target = tmp_path / "model.safetensors"
    arrays = {"kernel": np.arange(12, dtype=np.float32).reshape(3, 4)}
    with atomic_path(target) as partial:
        safetensors_numpy.save_file(arrays, str(partial), metadata={"format": "test"})
    loaded = safetensors_numpy.load_file(str(target))
    assert np.array_equal(loaded["kernel"], arrays["kernel"])
    assert _names(tmp_path) == ["model.safetensors"]


def test_path_form_with_a_path_writer_that_fails(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(Boom), atomic_path(target) as partial:
        safetensors_numpy.save_file({"x": np.zeros(3, np.float32)}, str(partial))
        raise Boom()  # e.g. a later step (chmod, metadata check) failing
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["model.safetensors"]


def test_torch_save_names_its_records_after_the_target_not_the_temp(tmp_path):
    """torch.save names the records in its zip after the file name less its last
    extension, so the temporary name must keep the target's name before its last dot."""
    torch = pytest.importorskip("torch")
    target = tmp_path / "checkpoint.pt"
    with atomic_path(target) as partial:
        torch.save({"step": 3}, partial)
    with zipfile.ZipFile(target) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"checkpoint.pt"}
    assert torch.load(target) == {"step": 3}


def test_stream_form_with_np_savez(tmp_path):
    target = tmp_path / "ckpt.npz"
    with atomic_output(target) as handle:
        np.savez(handle, a=np.arange(5))
    with np.load(target) as loaded:
        assert loaded["a"].tolist() == [0, 1, 2, 3, 4]
    assert _names(tmp_path) == ["ckpt.npz"]
