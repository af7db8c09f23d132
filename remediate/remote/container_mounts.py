"""Where a container's managed files live: baked into the image, or on a volume.

A file on the image's root file system (the overlay mounted at ``/``) is lost when the
container is recreated from its image: a fix written there lasts until the next restart of a
Kubernetes pod or ``docker compose up``. A file under any other mount point (a volume, a bind
mount, a ConfigMap) persists with that mount. ``MOUNTS_PROBE`` reads the container's own
``/proc/self/mountinfo`` in the gather round trip; ``file_mounts`` is pure.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

MOUNTS_PROBE = "cat /proc/self/mountinfo"

_OCTAL = re.compile(r"\\([0-7]{3})")


def mount_points(mountinfo: bytes) -> list[str]:
    """Pure: the mount points of ``/proc/self/mountinfo`` (field 5, octal escapes decoded)."""
    points = []
    for line in mountinfo.decode("utf-8", "replace").splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def file_mounts(mountinfo: bytes, paths: Iterable[str]) -> dict[str, str]:
    """Pure: each path's mount point (the longest one holding it); "/" means the image."""
    points = mount_points(mountinfo)
    found = {}
    for path in paths:
        path = posixpath.normpath(path)
        holders = [
            p for p in points if p == "/" or path == p or path.startswith(p.rstrip("/") + "/")
        ]
        found[path] = max(holders, key=len) if holders else "/"
    return found


def container_facts(
    runtime: str, name: str, mountinfo: bytes, paths: Iterable[str]
) -> dict[str, Any]:
    """Pure: the ``container`` facts of a plan: which managed files are baked into the image."""
    mounts = file_mounts(mountinfo, paths)
    return {
        "runtime": runtime,
        "name": name,
        "baked": sorted(p for p, m in mounts.items() if m == "/"),
        "volumes": {p: m for p, m in sorted(mounts.items()) if m != "/"},
    }


def baked_messages(facts: Mapping[str, Any], written: Iterable[str]) -> tuple[str, ...]:
    """Pure: what apply says for each written file that is baked into the image."""
    container = facts.get("container")
    if not isinstance(container, dict):
        return ()
    baked = set(container.get("baked", ()))
    where = f"{container.get('runtime', 'container')} container {container.get('name', '')}"
    return tuple(
        f"{path} is baked into the image of {where}: the change will not survive a container "
        "restart; make it in the image or in the manifest that configures it (Dockerfile, "
        "Helm values, compose file, ConfigMap) too"
        for path in sorted(set(written) & baked)
    )
