"""A managed file past the documented size is refused, not read (issue 20 item 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from remediate.remote.gather import MAX_FILE_BYTES, gather_command, parse_gather_reply


def test_a_file_past_the_limit_is_reported_not_read(tmp_path: Path) -> None:
    big, small = tmp_path / "big.conf", tmp_path / "small.conf"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    small.write_bytes(b"port 6379\n")
    paths = [str(big), str(small)]
    reply = subprocess.run(
        gather_command(paths, {}, "@@b"), capture_output=True, check=True, timeout=30
    )
    assert len(reply.stdout) < 1000  # the big file's bytes never travel
    files = parse_gather_reply(reply.stdout, "@@b", paths).files
    assert files[str(big)].error.startswith("larger than 16 MiB: not read")
    assert files[str(small)].content == b"port 6379\n"
