#!/usr/bin/env python3
"""The commands of theorylab, with set-up included. Needs only Python 3.11 and pip.

    python3 make.py book    # set up .venv if needed, execute every chapter (fast profile), build the HTML
    python3 make.py test    # set up .venv if needed, run every test
    python3 make.py lab     # set up .venv and JupyterLab (requirements-lab.txt), open the chapters in Lab
    python3 make.py calibrate --only walk-index --seeds 0-19   # a chapter's claims over 20 seeds

Anything after the command is passed on: ``python3 make.py book --only walk-index --profile full``
goes to ``python -m theorylab build``; ``python3 make.py test -k claims`` goes to pytest;
``python3 make.py book --edition student`` builds the student edition (no solutions).
``python3 make.py lab walk-index`` opens that chapter; other arguments go to ``jupyter lab``
(``--no-browser``, ``--port 8899``). ``THEORYLAB_VENV`` names another environment than ``.venv``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("THEORYLAB_VENV") or ROOT / ".venv")
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"
LAB_STAMP = VENV / ".requirements-lab.sha256"
# JupyterLab opens a chapter's MyST source (.md) as a notebook, through jupytext, not as text
LAB_SETTINGS = {"@jupyterlab/docmanager-extension:plugin": {
    "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}


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


def setup_lab() -> None:
    """Install JupyterLab, jupytext's Lab extension and jupyterlab-myst (requirements-lab.txt) into the venv."""
    wanted = hashlib.sha256((ROOT / "requirements-lab.txt").read_bytes()).hexdigest()
    if not (LAB_STAMP.exists() and LAB_STAMP.read_text().strip() == wanted):
        print(f"Installing requirements-lab.txt (JupyterLab) into {VENV.name} ...", flush=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", "requirements-lab.txt"], cwd=ROOT, check=True)
        LAB_STAMP.write_text(wanted + "\n")
    overrides = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(overrides.read_text()) if overrides.exists() else {}
    merged = {**current, **LAB_SETTINGS}
    if merged != current:
        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(json.dumps(merged, indent=1) + "\n")


def lab_command(rest: list[str]) -> list[str]:
    """``jupyter lab`` in the book's root; a chapter's slug as first argument opens that chapter."""
    cmd = [str(PYTHON), "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and cloud notebooks often run as root
        cmd.append("--allow-root")
    if rest and not rest[0].startswith("-"):
        slug = rest.pop(0)
        chapter = ROOT / "notebooks" / f"{slug}.md"
        if not chapter.exists():
            valid = ", ".join(sorted(p.stem for p in (ROOT / "notebooks").glob("*.md")))
            raise SystemExit(f"lab: no chapter {slug!r}; chapters are: {valid}")
        cmd.append(str(chapter.relative_to(ROOT)))
    return cmd + rest


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("book", "test", "setup", "calibrate", "lab"):
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
    if command == "lab":  # a reader's session: no build markers, so progress bars show
        setup_lab()
        env = {k: v for k, v in env.items() if k not in ("THEORYLAB_BUILD", "THEORYLAB_QUIET")}
        return subprocess.run(lab_command(list(rest)), cwd=ROOT, env=env).returncode
    if command in ("book", "calibrate"):
        env["THEORYLAB_BUILD"] = "1"  # runtime.progress stays silent in the build's kernels
    if command in ("book", "calibrate"):
        verb = "build" if command == "book" else "calibrate"
        return subprocess.run([str(PYTHON), "-m", "theorylab", verb, *rest], cwd=ROOT, env=env).returncode
    return subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
