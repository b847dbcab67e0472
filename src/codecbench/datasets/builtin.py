"""Built-in dataset plugin: the bundled ``sample`` set, the downloadable sets of the
catalog and the local-copy layouts."""

from __future__ import annotations

from pathlib import Path

from codecbench.api.hookspecs import hookimpl
from codecbench.datasets.catalog import CATALOG
from codecbench.datasets.folder import FolderDataset
from codecbench.datasets.local_layouts import LAYOUTS, LocalLayoutDataset
from codecbench.datasets.remote import RemoteDataset

SAMPLE_DIR = Path(__file__).parent / "sample"


def sample_dataset() -> FolderDataset:
    """The 6 bundled lossless photos (451–600 px, lossless WebP), licences in
    ``sample/LICENSES.md``."""
    return FolderDataset(
        SAMPLE_DIR,
        name="sample",
        version="2",
        license="CC0-1.0 / public domain (per file: LICENSES.md)",
        source="codecbench package data (scikit-image data, libjxl-testdata wesaturate)",
        description="6 lossless RGB photos (lossless WebP), 451-600 px, bundled with codecbench",
        availability="bundled",
    )


@hookimpl
def register_datasets(register):
    register(sample_dataset())
    for spec in CATALOG:
        register(RemoteDataset(spec))
    for layout in LAYOUTS:
        register(LocalLayoutDataset(layout))
