"""A jail's /etc as one folder, so bubblewrap binds it once instead of file by file.

Every bind costs bubblewrap two mount calls and a read of the mount table, which grows
with each bind: eighteen single-file binds under /etc were a good part of a jail's
start. Instead each jail gets one folder, bound read-only as /etc, holding:

- its own name files (passwd, group, hosts, resolv.conf, nsswitch.conf), written;
- the host's regular files it needs (ld.so.cache, mime.types…), hard links to copies
  this worker keeps (refreshed when the host's file changes), never the host's inodes;
- the host's symlinks into /usr (localtime, os-release), recreated as they are;
- an empty folder for each host folder it needs (ssl, alternatives…): the layout binds
  the host's folder there, read-only (filesystem.py).

Those folders are mount points inside the jail, and removing a folder that was one
waits for the kernel to detach it (an RCU grace period each: 10-40 ms per jail on a
loaded host). So a finished jail's /etc folder is not deleted but kept for this
worker's next jail, which rewrites its files (a folder serves one live jail at a time);
a worker keeps as many as it ran jails at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from secrets import token_hex

HOST_ETC = Path("/etc")
SYSTEM = Path("/usr")
# What programs inside need from the host's /etc (certificates, the loader, zones…).
ETC_ENTRIES = (
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "os-release",
    "mime.types",
    "protocols",
    "services",
)
FileKey = tuple[int, int, int]


class EtcTemplate:
    """The host's /etc entries a jail needs, kept under `base`, and the jails' /etc folders."""

    def __init__(self, base: Path, jails: Path, host_etc: Path = HOST_ETC) -> None:
        self.base = base
        self.jails = jails
        self.host_etc = host_etc
        self._copied: dict[str, FileKey] = {}
        self._free: list[Path] = []

    def acquire(self) -> Path:
        """A folder for one live jail's /etc: one a finished jail left, else a new one."""
        return self._free.pop() if self._free else self.jails / f"etc-{token_hex(6)}"

    def release(self, etc_dir: Path) -> None:
        """The jail that used `etc_dir` is gone: the next one may have it."""
        self._free.append(etc_dir)

    def fill(self, etc_dir: Path, written: dict[str, str]) -> None:
        """Make `etc_dir` a jail's whole /etc: `written` files plus the host's entries."""
        etc_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        for name in ETC_ENTRIES:
            self._add_host_entry(name, etc_dir / name)
        for name, text in written.items():
            # A new file, not the last jail's truncated: truncating costs a few ms here.
            (etc_dir / name).unlink(missing_ok=True)
            (etc_dir / name).write_text(text)

    def _add_host_entry(self, name: str, target: Path) -> None:
        source = self.host_etc / name
        if source.is_symlink() and source.resolve().is_relative_to(SYSTEM):
            link = os.readlink(source)  # /usr is inside the jail as well
            if not target.is_symlink() or os.readlink(target) != link:
                _remove(target)
                target.symlink_to(link)
        elif source.is_dir():
            target.mkdir(mode=0o755, exist_ok=True)  # the host's folder is bound here
        elif source.is_file():
            copy = self._fresh_copy(name, source)
            if not _same_file(copy, target):
                _remove(target)
                _link_or_copy(copy, target)
        else:
            _remove(target)  # gone from the host since an earlier jail

    def _fresh_copy(self, name: str, source: Path) -> Path:
        """This worker's copy of a host file, copied again when the host's changed."""
        stat = source.stat()
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        copy = self.base / name
        if self._copied.get(name) != key or not copy.exists():
            self.base.mkdir(mode=0o755, parents=True, exist_ok=True)
            fresh = self.base / f".{name}.{token_hex(4)}"
            shutil.copyfile(source, fresh)
            fresh.chmod(0o644)
            os.replace(fresh, copy)  # live jails keep the inode they were given
            self._copied[name] = key
        return copy


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no copy per jail) where the filesystem allows one, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        shutil.copyfile(source, target)
        target.chmod(0o644)


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.stat().st_ino == other.lstat().st_ino
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    """Whatever `path` is (nothing, a file, a link, an empty folder), gone."""
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    else:
        path.unlink(missing_ok=True)
