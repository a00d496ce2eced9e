#!/usr/bin/env python3
"""The two commands of theorylab, with set-up included. Needs only Python 3.11 and pip.

    python3 make.py book    # set up .venv if needed, execute every chapter (fast profile), build the HTML
    python3 make.py test    # set up .venv if needed, run every test
    python3 make.py calibrate --only walk-index --seeds 0-19   # a chapter's claims over 20 seeds

Anything after the command is passed on: ``python3 make.py book --only walk-index --profile full``
goes to ``python -m theorylab build``; ``python3 make.py test -k claims`` goes to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"


def setup() -> None:
    """Create ``.venv`` and install ``requirements.txt`` into it, unless it is already up to date."""
    if sys.version_info[:2] < (3, 11):
        sys.exit(f"theorylab needs Python >= 3.11; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print(f"Creating {VENV.name} with Python {sys.version.split()[0]} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing requirements.txt into .venv (about a minute the first time) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", "requirements.txt"], cwd=ROOT, check=True)
    STAMP.write_text(wanted + "\n")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("book", "test", "setup", "calibrate"):
        print(__doc__.strip())
        return 2
    command, rest = argv[0], argv[1:]
    setup()
    # this checkout's package comes first, even when .venv was made (or is shared) by another checkout
    src = str(ROOT / "src")
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    if command == "setup":
        return 0
    if command in ("book", "calibrate"):
        verb = "build" if command == "book" else "calibrate"
        return subprocess.run([str(PYTHON), "-m", "theorylab", verb, *rest], cwd=ROOT, env=env).returncode
    return subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
