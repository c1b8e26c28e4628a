"""The set-up files agree: pyproject.toml and environment.yml list the same packages and ranges;
the Makefile and CI run what the README says; a wheel carries the presets, batches and notebooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, requirement
    name = match.group(1).lower().replace("_", "-")
    spec = ",".join(sorted(p.strip() for p in match.group(3).split(",") if p.strip()))
    return name, spec


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for item in dep.get("pip", []):
                if not item.startswith("-e"):
                    name, spec = _split(item)
                    out[name] = spec
            continue
        name, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", dep) else dep)
        if name not in ("python", "pip"):
            out[name] = spec
    return out


def test_environment_yml_matches_pyproject():
    assert _conda() == _pyproject()


def test_makefile_installs_every_extra_the_environment_lists():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = set(data["project"].get("optional-dependencies", {}))
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^EXTRAS\s*:=\s*(\S+)", makefile, flags=re.M)
    assert listed and set(listed.group(1).split(",")) == extras


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


# --------------------------------------------------------------------------------------------
# Package data in an ordinary (non-editable) install

_INSTALLED_CHECK = """
import json, sys
from pathlib import Path
import simlib
from simlib import batch, load_scenario, preset_names
from simlib.io import resources
here = Path(simlib.__file__).resolve().parent
textbook = load_scenario("textbook")
print(json.dumps({
    "package": str(here),
    "presets": preset_names(),
    "preset_dir": str(resources.preset_dir()),
    "batches": resources.batch_names(),
    "notebooks": resources.notebook_names(),
    "notebooks_dir": str(batch.notebooks_dir()),
    "textbook_horizon": textbook.horizon_months,
    "demo_batch": (resources.batch_dir() / "demo.yaml").is_file(),
}))
"""


def _repo_names(folder: str, suffix: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / folder).iterdir() if p.suffix == suffix)


def test_repo_data_paths_are_links_to_the_package_data():
    # CONTRACT.md's repo paths keep working: they lead to the folders that ship in the wheel
    for repo, package in (
        ("data/scenarios", "simlib/data/scenarios"),
        ("data/batches", "simlib/data/batches"),
        ("notebooks", "simlib/data/notebooks"),
    ):
        assert (ROOT / repo).resolve() == (ROOT / package).resolve(), repo
    assert (ROOT / "data" / "batches" / "demo.yaml").is_file()
    from simlib.io import resources

    assert resources.preset_names() == _repo_names("data/scenarios", ".yaml")
    assert resources.notebook_names() == _repo_names("notebooks", ".ipynb")


@pytest.mark.slow
def test_a_wheel_install_finds_presets_batches_and_notebooks(tmp_path: Path):
    """Build a wheel from a copy of the sources, install it (not editable) into a folder of its
    own and, from elsewhere, list the presets, load one and find the batches and notebooks."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    shutil.copytree(ROOT / "simlib", src / "simlib", ignore=skip)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(src)], check=True)
    (wheel,) = wheels.glob("simlib-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    for folder, package, suffix in (
        ("data/scenarios", "simlib/data/scenarios", ".yaml"),
        ("data/batches", "simlib/data/batches", ".yaml"),
        ("notebooks", "simlib/data/notebooks", ".ipynb"),
    ):
        for name in _repo_names(folder, suffix):
            assert f"{package}/{name}{suffix}" in shipped
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", _INSTALLED_CHECK],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    installed = (target / "simlib").resolve()
    assert found["package"] == str(installed)  # the installed copy, not the checkout
    assert Path(found["preset_dir"]).is_relative_to(installed)
    assert Path(found["notebooks_dir"]).is_relative_to(installed)
    assert found["presets"] == _repo_names("data/scenarios", ".yaml")
    assert found["batches"] == _repo_names("data/batches", ".yaml")
    assert found["notebooks"] == _repo_names("notebooks", ".ipynb")
    assert found["textbook_horizon"] > 0 and found["demo_batch"]
