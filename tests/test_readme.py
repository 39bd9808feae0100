"""The README's Python snippets run, in order, as a user would paste them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace = {}
    for block in blocks:
        if block.startswith("# needs a running Dask scheduler"):
            continue  # covered by tests/test_compare.py against a loopback cluster
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "SMOTE + CE" in out and "adaptive loss" in out
