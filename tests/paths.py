"""Where the tests find ../shared (the real-world corpus, DOMAIN.md): beside this checkout,
or beside the repository it was cloned from (CI clones main elsewhere), or $REMEDIATE_SHARED."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    candidates = (
        [Path(os.environ["REMEDIATE_SHARED"])] if os.environ.get("REMEDIATE_SHARED") else []
    )
    candidates.append(ROOT.parent / "shared")
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if (
        origin
        and not origin.startswith(("http:", "https:", "ssh:", "git@", "file:"))
        or origin.startswith("file:")
    ):
        candidates.append(Path(origin.removeprefix("file://")).resolve().parent / "shared")
    return next((c for c in candidates if (c / "corpus").is_dir()), candidates[0])


SHARED = _shared()
CORPUS = SHARED / "corpus"
