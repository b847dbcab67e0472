"""What a framework mixin declares: its name, install hint, coder library and the modules
it needs (checked without importing them)."""

from __future__ import annotations

import functools
import importlib.util
from typing import ClassVar


@functools.cache
def module_installed(name: str) -> bool:
    """Whether top-level module ``name`` can be imported (``find_spec``: nothing imported),
    looked up once per process: every learned codec of a framework asks for the same
    modules when the codecs are listed."""
    return importlib.util.find_spec(name) is not None


class FrameworkRuntime:
    """Base of the framework mixins of :mod:`.torch_runtime` and :mod:`.tf_runtime`."""

    framework: ClassVar[str]
    install_hint: ClassVar[str]
    coder_library: ClassVar[str]
    """The library whose version is a learned codec's version."""
    required_modules: ClassVar[tuple[str, ...]]

    def missing_modules(self) -> list[str]:
        """The required modules that are not installed (``find_spec``: nothing imported)."""
        return [name for name in self.required_modules if not module_installed(name)]
