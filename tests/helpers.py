"""Plain test helpers and constants (no fixtures: those are in conftest.py).

Test modules import these with ``from helpers import ...``: the tests folder is on
``sys.path`` (conftest.py puts it there, for spawned workers too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
SAMPLE_DIR = REPO_ROOT / "src" / "codecbench" / "datasets" / "sample"


def make_distribution(root: Path, dist_name: str, entry_points: dict[str, str],
                      modules: dict[str, str], version: str = "1.0") -> Path:
    """Write an installed-looking distribution (dist-info + modules) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    dist_info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
    )
    lines = ["[codecbench]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m codecbench ARGS`` in a subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "codecbench", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def invoke_cli(*args: str, env: dict | None = None) -> SimpleNamespace:
    """Run ``codecbench ARGS`` in this process (click's test runner): for commands whose
    heavy imports (torch, TensorFlow) the test process already paid for.

    The command line is built as ``main()`` builds it (:func:`codecbench.cli.main.build_cli`:
    every subcommand comes from a plugin's ``register_commands`` hook, the built-in ones
    from ``commands-builtin``), with the process-wide registry.
    """
    from click.testing import CliRunner

    from codecbench.cli.main import build_cli

    result = CliRunner().invoke(build_cli(), list(args), env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)
