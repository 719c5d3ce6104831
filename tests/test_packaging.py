"""environment.yml, pyproject.toml, the Makefile and CI must agree."""

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    return {Requirement(t).name.lower(): Requirement(t).specifier for t in texts}


def conda_requirements() -> tuple[dict[str, SpecifierSet], list[str]]:
    """Conda packages (as PyPI names) and the pip section of environment.yml."""
    conda, pip, in_pip = {}, [], False
    text = (ROOT / "environment.yml").read_text()
    for raw in text.split("\ndependencies:\n", 1)[1].splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if re.match(r"^\s+- pip:\s*$", line):
            in_pip = True
            continue
        item = re.match(r"^(\s+)- (.+)$", line)
        if not item:
            continue
        if in_pip and len(item.group(1)) > 2:
            pip.append(item.group(2).strip())
            continue
        in_pip = False
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", item.group(2).strip()).groups()
        if name in {"python", "pip"}:
            continue
        conda[CONDA_TO_PYPI.get(name, name).lower()] = SpecifierSet(spec.replace(" ", ""))
    return conda, pip


def test_environment_yml_lists_the_same_packages_and_versions_as_pyproject():
    conda, _ = conda_requirements()
    assert conda == pyproject_requirements()


def test_environment_yml_installs_the_package_editable():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name: cs182meta$", text, re.M)
    assert conda_requirements()[1] == ["-e ."]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_nbgrader_and_jupyterlab_ranges_are_compatible():
    reqs = pyproject_requirements()
    # nbgrader 0.9.x needs jupyterlab >= 4.2, < 5 and notebook >= 7.2, < 8.
    assert "4.2" in reqs["jupyterlab"] and "5.0" not in reqs["jupyterlab"]
    assert "7.2" in reqs["notebook"] and "8.0" not in reqs["notebook"]
    assert "2.14.1" in reqs["torch"], "the torch range must admit the release on this disk"
