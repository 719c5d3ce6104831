"""Install this checkout and its requirements into the active Python, only if needed.

`make test` and `make demo` call this first. When every requirement in pyproject.toml is
already satisfied and `cs182meta` resolves to *this* checkout, it installs nothing and
returns in well under a second; otherwise it runs `pip install -e ".[course,dev]"`.

It also installs bubblewrap (`bwrap`, the sandbox the grader runs student code in) and
Chromium (the browser `tests/test_browser.py` drives with Playwright) with `apt-get` where
they are missing and this runs as root on Debian or Ubuntu (CI); elsewhere it says how to
install them. Without bubblewrap, grading still works, unconfined, with a warning; without
Chromium, the browser tests are skipped. No browser is ever downloaded by Playwright.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("course", "dev")


def requirements() -> list[str]:
    import tomllib  # Python >= 3.11; on 3.10 main() falls back to a plain pip install

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return reqs


def unmet(reqs: list[str]) -> list[str]:
    """The requirements not satisfied by what is installed."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return ["packaging (needed to check the others)"]
    missing = []
    for text in reqs:
        req = Requirement(text)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(f"{text} (not installed)")
            continue
        if not req.specifier.contains(version, prereleases=True):
            missing.append(f"{text} (found {version})")
    return missing


def package_location() -> Path | None:
    """Where `import cs182meta` resolves from outside this folder (None if nowhere)."""
    probe = "import importlib.util as u; s = u.find_spec('cs182meta'); print(s.origin if s else '')"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd="/", capture_output=True, text=True, check=False
    ).stdout.strip()
    return Path(out).resolve().parent if out else None


def apt_install(package: str) -> bool:
    """``apt-get install -y PACKAGE`` (after ``apt-get update`` if the first try fails);
    True when it is installed."""
    apt = shutil.which("apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", package]
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if subprocess.run(install, **quiet).returncode == 0:
        return True
    subprocess.run([apt, "update", "-q"], **quiet)
    return subprocess.run(install, **quiet).returncode == 0


def can_apt_install() -> bool:
    """Root on a system with apt-get (Debian, Ubuntu)."""
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def ensure_bubblewrap() -> None:
    if shutil.which("bwrap") or not sys.platform.startswith("linux"):
        return
    if not can_apt_install():
        print("dependencies: bubblewrap (`bwrap`) is missing, so grading runs student code "
              "unconfined; install it: sudo apt-get install bubblewrap (or your system's "
              "package)")
        return
    print("dependencies: apt-get install -y bubblewrap (the sandbox for student code)")
    if not apt_install("bubblewrap"):
        print("dependencies: could not install bubblewrap; grading runs student code "
              "unconfined")


def ensure_chromium() -> None:
    """Debian's ``chromium`` for the browser tests (Playwright drives it; downloading
    Playwright's own browsers fails on machines without internet access)."""
    if (os.path.exists("/usr/bin/chromium") or shutil.which("chromium")
            or not sys.platform.startswith("linux")):
        return
    if not can_apt_install():
        print("dependencies: chromium is missing, so the browser tests are skipped; install "
              "it: sudo apt-get install chromium (or your system's package)")
        return
    print("dependencies: apt-get install -y chromium (for the browser tests)")
    if not apt_install("chromium"):
        print("dependencies: could not install chromium; the browser tests are skipped")


def main() -> int:
    ensure_bubblewrap()
    ensure_chromium()
    try:
        missing = unmet(requirements())
    except ImportError:
        missing = ["(cannot read pyproject.toml without tomllib)"]
    location = package_location()
    here = ROOT / "cs182meta"
    if not missing and location == here:
        print("dependencies: all installed")
        return 0
    for item in missing:
        print(f"dependencies: missing {item}")
    if location != here:
        print(f"dependencies: cs182meta resolves to {location}, not {here}")
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    target = f"{ROOT}[{','.join(EXTRAS)}]"
    # Requirements already met: only (re)point the editable install at this checkout.
    command = pip + ["--no-deps", "-e", str(ROOT)] if not missing else pip + ["-e", target]
    print("dependencies: " + " ".join(command[2:]))
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
