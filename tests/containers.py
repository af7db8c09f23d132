"""A real podman container for the tests, from an image built here (no registry is reachable).

The image is a root file system assembled from this machine's own files: dash as /bin/sh,
coreutils, flock and socat (the lock and the TCP relay), redis-server and redis-cli, each
with the shared libraries ``ldd`` names. It is imported once per content (the tag is a hash
of every file that goes in), under a lock, so parallel sessions share it.

Measured on this machine (Debian 12, podman 4.3.1, root without CAP_SYS_RESOURCE, hybrid
cgroups): crun refuses to start ("cgroups in hybrid mode not supported"), runc works; podman's
default ``nofile`` of 1048576 cannot be set, so the limits are passed at or below ours.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

PODMAN = ["podman", "--runtime", "runc"]
LOCK = Path("/var/lib/remediate-test-image.lock")
BINARIES = ("/bin/dash", "/usr/bin/redis-check-rdb", "/usr/bin/redis-cli", "/usr/bin/flock")
RELAY = "/usr/bin/socat"


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def _coreutils() -> list[str]:
    listing = subprocess.run(
        ["dpkg", "-L", "coreutils"], capture_output=True, text=True, check=True
    )
    return [
        p
        for p in listing.stdout.split()
        if re.match(r"^/(usr/)?bin/[^/]+$", p) and os.path.isfile(p) and not os.path.islink(p)
    ]


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    return re.findall(r"(/\S+)", out)


def image_files(with_relay: bool = True) -> list[str]:
    binaries = [*BINARIES, *_coreutils(), *([RELAY] if with_relay else [])]
    files = set(binaries)
    for binary in binaries:
        files.update(_libraries(binary))
    return sorted(files)


PASSWD = "root:x:0:0:root:/root:/bin/sh\nredis:x:100:101::/var/lib/redis:/bin/sh\n"
GROUP = "root:x:0:\nredis:x:101:\n"


Extra = dict[str, "bytes | tuple[bytes, int, int, int]"]


def ensure_image(extra: Extra, with_relay: bool = True) -> str:
    """The tag of an image holding the machine's files plus ``extra`` (path -> bytes, or
    bytes with mode, uid and gid)."""
    files = image_files(with_relay)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.encode() + b"\0" + Path(path).read_bytes())
    for path, value in sorted(extra.items()):
        digest.update(path.encode() + b"\0" + repr(value).encode())
    tag = f"localhost/remediate-test:{digest.hexdigest()[:16]}"
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", tag, check=False).returncode == 0:
            return tag
        with tempfile.TemporaryDirectory(prefix="remediate-image.") as tmp:
            root = Path(tmp) / "root"
            for directory in ("bin", "usr/bin", "tmp", "run", "proc", "dev", "sys", "root"):
                (root / directory).mkdir(parents=True, exist_ok=True)
            for path in files:
                target = root / path.lstrip("/")
                if path.startswith("/bin/"):  # merged /usr: /bin/dash lives in /usr/bin
                    target = root / "usr" / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(path), target)
            (root / "bin" / "sh").symlink_to("/usr/bin/dash")
            (root / "usr/bin/redis-server").symlink_to("redis-check-rdb")
            (root / "tmp").chmod(0o1777)
            everything = {"/etc/passwd": PASSWD.encode(), "/etc/group": GROUP.encode(), **extra}
            for path, value in everything.items():
                data, mode, uid, gid = value if isinstance(value, tuple) else (value, 0o644, 0, 0)
                target = root / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                os.chmod(target, mode)
                os.chown(target, uid, gid)
            tar = Path(tmp) / "root.tar"
            subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
            podman("import", str(tar), tag)
    return tag


def run_container(
    name: str, image: str, command: list[str], volumes: dict[str, str] | None = None
) -> None:
    """Start ``name`` detached (no network: its Redis is reachable only through exec)."""
    podman("rm", "-f", name, check=False)
    limits = str(_hard_nofile())  # as the SSH fleet's servers run
    args = ["run", "-d", "--name", name, "--network", "none"]
    args += ["--ulimit", f"nofile={limits}:{limits}", "--ulimit", "nproc=4096:4096"]
    for source, target in (volumes or {}).items():
        args += ["-v", f"{source}:{target}"]
    podman(*args, image, *command)


def wait_for(name: str, argv: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = podman("exec", name, *argv, check=False)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: {argv} never succeeded: {done.stderr}")
        time.sleep(0.2)


def remove_container(name: str) -> None:
    podman("rm", "-f", "-t", "0", name, check=False)


def container_file(name: str, path: str) -> bytes:
    return subprocess.run(
        [*PODMAN, "exec", name, "cat", path], capture_output=True, check=True
    ).stdout


def _hard_nofile() -> int:
    import resource

    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[1])
