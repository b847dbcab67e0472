"""The one table of downloadable datasets: URLs, checksums, licences, layouts.

``checksum`` is a published digest (``"md5:…"``/``"sha256:…"``) where one exists, with its
source in ``checksum_source``; ``None`` means none is published and the file is verified by
trust on first use (its SHA-256 is recorded at the first download and checked ever after,
and provenance says so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    url: str
    checksum: str | None = None
    archive: bool = False
    size: int | None = None  # bytes, where known: the body must have exactly this size

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RemoteSpec:
    name: str
    version: str
    license: str
    source: str
    description: str
    files: tuple[RemoteFile, ...]
    image_glob: str
    expected_count: int
    checksum_source: str = "trust on first use (no published checksum)"
    kind: str = "images"  # "images" (files matched by image_glob) or "cifar10"


KODAK_FILES = tuple(
    RemoteFile(f"https://r0k.us/graphics/kodak/kodak/kodim{i:02d}.png") for i in range(1, 25)
)

CATALOG: tuple[RemoteSpec, ...] = (
    RemoteSpec(
        name="kodak", version="PhotoCD PCD0992", license="free for unrestricted use (Kodak)",
        source="https://r0k.us/graphics/kodak/",
        description="Kodak Lossless True Color Image Suite: 24 PNGs, 768x512",
        files=KODAK_FILES, image_glob="kodim*.png", expected_count=24,
    ),
    RemoteSpec(
        name="clic2020-professional-valid", version="CLIC 2020",
        license="Unsplash licence (CLIC challenge data)",
        source="https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip",
        description="CLIC 2020 professional validation: 41 PNGs, up to 2048 px",
        files=(RemoteFile("https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip",
                          "md5:7111ee240435911db04dbc5f40d50272", archive=True),),
        image_glob="**/*.png", expected_count=41,
        checksum_source="md5 published with public CLIC data loaders",
    ),
    RemoteSpec(
        name="clic2020-mobile-valid", version="CLIC 2020", license="CLIC challenge data",
        source="https://data.vision.ee.ethz.ch/cvl/clic/mobile_valid_2020.zip",
        description="CLIC 2020 mobile validation: 61 PNGs",
        files=(RemoteFile("https://data.vision.ee.ethz.ch/cvl/clic/mobile_valid_2020.zip",
                          archive=True),),
        image_glob="**/*.png", expected_count=61,
    ),
    RemoteSpec(
        name="tecnick", version="TESTIMAGES RGB 1200x1200 (2014)",
        license="CC BY-NC-SA 4.0 (TESTIMAGES, Asuni & Giachetti)",
        source="https://testimages.org/",
        description="Tecnick TESTIMAGES: RGB 8-bit 1200x1200 sampling set, 100 PNGs",
        files=(RemoteFile("https://sourceforge.net/projects/testimages/files/OLD/OLD_SAMPLING/"
                          "testimages.zip", archive=True),),
        image_glob="**/*.png", expected_count=100,
    ),
    RemoteSpec(
        name="div2k-valid-hr", version="NTIRE 2017", license="academic research only",
        source="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
        description="DIV2K validation high resolution: 100 PNGs, 2K",
        files=(RemoteFile("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
                          archive=True),),
        image_glob="**/*.png", expected_count=100,
    ),
    RemoteSpec(
        name="coco-val2017", version="2017", license="CC BY 4.0 (annotations); images: Flickr terms",
        source="https://cocodataset.org/",
        description="COCO 2017 validation images: 5000 JPEGs",
        files=(RemoteFile("http://images.cocodataset.org/zips/val2017.zip", archive=True),),
        image_glob="**/*.jpg", expected_count=5000,
    ),
    RemoteSpec(
        name="cifar10-test", version="python", license="MIT-style (Krizhevsky 2009)",
        source="https://www.cs.toronto.edu/~kriz/cifar.html",
        description="CIFAR-10 test batch: 10000 32x32 images (decoded without unpickling code)",
        files=(RemoteFile("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                          "md5:c58f30108f718f92721af3b95e74349a", archive=True),),
        image_glob="**/test_batch", expected_count=10000,
        checksum_source="md5 published on the CIFAR-10 page (also torchvision's)",
        kind="cifar10",
    ),
)


def spec(name: str) -> RemoteSpec:
    for entry in CATALOG:
        if entry.name == name:
            return entry
    raise KeyError(name)
