"""A run's disk: a sparse ext4 image, loop-mounted, that caps what the worktree and HOME hold.

A full image stops the agent with ENOSPC and leaves the host's disk (which also holds
Postgres' data locally) untouched. The image is sparse (it takes what is written, up
to its size), made once per run (mkfs of a lazily initialised ext4: tens of ms) and
mounted `nosuid,nodev` for the run's turns on this worker; `mount -o loop` sets the
loop device to detach itself when unmounted. The filesystem's root belongs to the
jail's uid, so the agent can write at its top.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

MKFS_OPTIONS = ("-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1")
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"


class DiskError(Exception):
    """The run's disk could not be made, mounted or unmounted."""


def loop_disks_available() -> bool:
    """True when this host can make and loop-mount ext4 images (root, tools, loop devices)."""
    tools = all(shutil.which(tool) for tool in ("mkfs.ext4", "mount", "umount"))
    return os.geteuid() == 0 and tools and Path("/dev/loop-control").exists()


class RunDisk:
    """The image file and where it is mounted."""

    def __init__(self, image: Path, mount_point: Path) -> None:
        self.image = image
        self.mount_point = mount_point

    def is_mounted(self) -> bool:
        """True when the mount point has a filesystem of its own mounted."""
        return os.path.ismount(self.mount_point)

    async def attach(self, size_bytes: int, uid: int, gid: int) -> None:
        """Make the image once (root owned by uid:gid) and mount it, unless it already is."""
        if self.is_mounted():
            return
        self.mount_point.mkdir(parents=True, exist_ok=True)
        if not self.image.exists():
            await self._make(size_bytes, uid, gid)
        await _run("mount", "-o", MOUNT_OPTIONS, str(self.image), str(self.mount_point))

    async def _make(self, size_bytes: int, uid: int, gid: int) -> None:
        self.image.parent.mkdir(parents=True, exist_ok=True)
        partial = self.image.with_suffix(".partial")
        with partial.open("wb") as image:
            image.truncate(size_bytes)
        owner = f"root_owner={uid}:{gid}"
        await _run("mkfs.ext4", *MKFS_OPTIONS[:-1], f"{MKFS_OPTIONS[-1]},{owner}", str(partial))
        partial.rename(self.image)

    async def detach(self) -> None:
        """Unmount (the loop device goes with it); the image stays for a later turn."""
        if self.is_mounted():
            await _run("umount", str(self.mount_point))

    async def destroy(self) -> None:
        """Unmount and delete the image: the run is over on this worker."""
        await self.detach()
        self.image.unlink(missing_ok=True)

    def usage(self) -> tuple[int, int]:
        """(bytes used, bytes total) of the mounted filesystem."""
        stats = os.statvfs(self.mount_point)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize, stats.f_blocks * stats.f_frsize


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise DiskError(f"{argv[0]} failed: {err.decode(errors='replace').strip()[:300]}")
