"""What a jail sees of the filesystem, as bubblewrap arguments.

The root is an empty tmpfs, read-only once built. Into it: the system (`/usr` and the
merged-/usr links, a short list of /etc entries programs need), the read-only paths the
operator names (the agent CLIs), the run's worktree and HOME read-write, a size-capped
/tmp and /dev/shm, a /proc of the jail's own pid namespace and a minimal /dev. Every
path is bound at the same place it has on the host, so the executors' argv, cwd and
HOME stay valid inside. The parents of those paths exist inside as empty folders:
`.data/`, the secret files, other runs' worktrees and the git mirror are not there.
/etc is the jail's own folder (etc.py), bound read-only in one piece: its identity and
name files, links to copies of the host files it needs, and the host's folders it
needs (certificates, alternatives) bound into it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SYSTEM = Path("/usr")
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
HOSTNAME = "dursor-jail"
# The jail's own size-capped tmpfs folders, not the host's.
TMP = "/tmp"  # noqa: S108
SHM = "/dev/shm"  # noqa: S108
VAR_TMP = "/var/tmp"  # noqa: S108
KERNEL_FOLDERS = (Path(TMP), Path("/dev"), Path("/proc"))


class LayoutError(Exception):
    """The requested folders would expose more than the run's own."""


@dataclass(frozen=True)
class JailIdentityFiles:
    """Who the agent is inside the jail, for /etc/passwd and /etc/group."""

    uid: int
    gid: int
    home: Path


def identity_files(who: JailIdentityFiles, hosts: str) -> dict[str, str]:
    """The contents of the jail's /etc name files."""
    return {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"agent:x:{who.uid}:{who.gid}:dursor agent:{who.home}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\nagent:x:{who.gid}:\nnogroup:x:65534:\n",
        "hosts": hosts,
        # No resolver answers inside: names outside /etc/hosts do not resolve.
        "resolv.conf": "options timeout:1 attempts:1\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    }


@dataclass(frozen=True)
class JailLayout:
    """The folders of one jail and where its /etc files were written."""

    workspace: Path
    home: Path
    read_only: tuple[Path, ...]
    etc_dir: Path
    tmp_bytes: int

    def validate(self) -> None:
        """Refuse read-only paths that would show the worktree's or HOME's neighbours."""
        for writable in (self.workspace, self.home):
            if writable == Path("/") or writable.is_relative_to(SYSTEM):
                raise LayoutError(f"{writable} cannot be a jail's writable folder")
            for path in self.read_only:
                if writable.is_relative_to(path):
                    raise LayoutError(f"read-only {path} would expose what lies beside {writable}")

    def bwrap_args(self) -> list[str]:
        """Mount arguments, in the order bubblewrap must apply them."""
        self.validate()
        args = ["--ro-bind", str(SYSTEM), str(SYSTEM), *_root_links()]
        # /tmp, /dev and /proc first: a folder below /tmp (a test's) is bound over them.
        args += self._kernel_filesystems() + _etc_binds(self.etc_dir)
        extra = [p for p in self.read_only if not p.is_relative_to(SYSTEM)]
        writable = sorted({self.workspace, self.home}, key=lambda p: len(p.parts))
        covered = [SYSTEM, *KERNEL_FOLDERS, *extra]
        for folder in _missing_parents([*extra, *writable], covered):
            args += ["--perms", "0755", "--dir", str(folder)]
        for path in extra:
            args += ["--ro-bind", str(path), str(path)]
        for path in writable:
            args += ["--bind", str(path), str(path)]
        return [*args, "--remount-ro", "/"]

    def _kernel_filesystems(self) -> list[str]:
        size = str(self.tmp_bytes)
        return [
            "--proc", "/proc",
            "--dev", "/dev",
            "--perms", "1777", "--size", size, "--tmpfs", TMP,
            "--perms", "1777", "--size", size, "--tmpfs", SHM,
            "--perms", "0755", "--dir", "/var",
            "--symlink", "../tmp", VAR_TMP,
        ]  # fmt: skip


def _root_links() -> list[str]:
    """/bin, /lib… as symlinks into /usr where the host has merged /usr, else bound."""
    args: list[str] = []
    for name in MERGED_USR_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _etc_binds(etc_dir: Path) -> list[str]:
    """The jail's /etc folder, and the host's folder of that name on each folder in it."""
    args = ["--ro-bind", str(etc_dir), "/etc"]
    for entry in sorted(etc_dir.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            args += ["--ro-bind", f"/etc/{entry.name}", f"/etc/{entry.name}"]
    return args


def _missing_parents(paths: Iterable[Path], covered: list[Path]) -> list[Path]:
    """Every ancestor of `paths` except / and the covered paths themselves, shallowest first."""
    found: set[Path] = set()
    for path in paths:
        for parent in path.parents:
            if parent != Path("/") and parent not in covered and not _bound_below(parent, covered):
                found.add(parent)
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def _bound_below(folder: Path, covered: list[Path]) -> bool:
    """True when `folder` lies inside a read-only bind (it exists there already)."""
    return any(folder.is_relative_to(c) for c in covered if c not in KERNEL_FOLDERS)
