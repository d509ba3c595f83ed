"""The package's layers (pyproject.toml, [tool.importlinter]): an import only goes down,
no cycle between the modules of a package, not even through TYPE_CHECKING."""

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_imports_go_down_the_layers_without_cycles():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
