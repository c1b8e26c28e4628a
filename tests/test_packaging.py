"""The set-up files agree: pyproject.toml and environment.yml list the same packages and ranges;
the Makefile and CI run what the README says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

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
