"""The README's Python snippets run, each on its own, as a user would paste it into a
fresh file."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_each_on_its_own(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the Quick start saves a model file
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2  # the Quick start, the grid and Pipeline
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "SMOTE + CE" in out and "adaptive loss" in out
    assert (tmp_path / "model.pt").exists()


def test_readme_stays_a_front_door():
    # What, install, quick start, the losses, the main job, one results table, links:
    # the rest lives in docs/.
    assert len(README.read_text()) <= 12_000
