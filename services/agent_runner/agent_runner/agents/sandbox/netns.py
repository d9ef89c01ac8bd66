"""A jail's network namespace, made by the runner, with the runner's sockets inside it.

The runner creates the namespace itself (in a short-lived thread: `unshare` and `setns`
act on the calling thread only) and, while inside, opens the listening sockets the
egress serves: a socket keeps the namespace it was created in, so the runner accepts
the jail's connections on its own event loop with no process in the jail. The jail
joins the namespace through `/proc/<runner>/fd/<fd>` (`nsenter --net=`), so nothing is
mounted on the host and the namespace disappears with its last process and socket.

The tripwire (when nftables is installed): a default route over `lo` and an
nftables rule that redirects every TCP connection to a non-loopback address to one
sink socket, which reads the original destination (SO_ORIGINAL_DST) and reports it.
The rule goes in through libnftables in the namespaced thread (`nft` where the library
cannot be loaded): starting `nft` for every jail cost most of its setup.
Without it such a connection fails at once (no route) and is not reported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import functools
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
SIOCADDRT = 0x890B
SIOCSIFADDR = 0x8916
SIOCSIFNETMASK = 0x891C
IFREQ_ADDR = "16sH2x4s8x"
# A documentation address (RFC 5737): the jail's own, never a real destination.
SOURCE_ADDRESS = "192.0.2.1"
HOST_MASK = "255.255.255.255"
RTF_UP = 0x1
SO_ORIGINAL_DST = 80
IFREQ = "16sH14s"
TRIPWIRE_TABLE = "dursor_tripwire"
NFTABLES_LIBRARY = "libnftables.so.1"
Bind = tuple[str, int]


class NetworkError(Exception):
    """The jail's network namespace could not be set up."""


@dataclass
class JailNetwork:
    """The namespace (held open by `fd`) and the listening sockets made inside it."""

    fd: int
    sockets: dict[Bind, socket.socket]
    sink: socket.socket | None
    closed: bool = field(default=False)

    def nsenter_path(self) -> str:
        """A path to this namespace that root processes of the host can open."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        """Close the sockets and the namespace handle (the kernel frees it once unused)."""
        if self.closed:
            return
        self.closed = True
        for sock in [*self.sockets.values(), *([self.sink] if self.sink else [])]:
            sock.close()
        os.close(self.fd)


def tripwire_available() -> bool:
    """True when nftables can install the tripwire (its library, else the `nft` program)."""
    return _nftables_library() is not None or shutil.which("nft") is not None


@functools.cache
def _nftables_library() -> ctypes.CDLL | None:
    """libnftables (what `nft` itself calls), loaded once; None where it is missing."""
    name = ctypes.util.find_library("nftables")
    try:
        library = ctypes.CDLL(name or NFTABLES_LIBRARY, use_errno=True)
    except OSError:
        return None
    library.nft_ctx_new.restype = ctypes.c_void_p
    library.nft_ctx_new.argtypes = [ctypes.c_uint32]
    library.nft_ctx_free.argtypes = [ctypes.c_void_p]
    library.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    library.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    library.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    library.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return library


def open_network(binds: Sequence[Bind], tripwire: bool) -> JailNetwork:
    """A new namespace with `lo` up and a listening socket for each bind (port 0: any)."""
    outcome: dict[str, JailNetwork | BaseException] = {}

    def build() -> None:
        try:
            outcome["network"] = _build_inside(binds, tripwire)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=build, name="jail-netns")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise NetworkError(f"cannot set up the jail's network: {outcome['error']}")
    network = outcome["network"]
    assert isinstance(network, JailNetwork)
    return network


def _build_inside(binds: Sequence[Bind], tripwire: bool) -> JailNetwork:
    """Runs in its own thread: enter a new namespace, build it, always come back."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return _populate(fd, binds, tripwire)
        except BaseException:
            os.close(fd)
            raise
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            # This thread ends right after; it must not make sockets meanwhile.
            os.close(home)
            raise OSError(ctypes.get_errno(), "setns back to the runner's network")
        os.close(home)


def _populate(fd: int, binds: Sequence[Bind], tripwire: bool) -> JailNetwork:
    _loopback_up()
    sockets: dict[Bind, socket.socket] = {}
    try:
        for host, port in binds:
            sockets[(host, port)] = _listen(host, port)
        sink = _listen("127.0.0.1", 0) if tripwire else None
        if sink is not None:
            _install_tripwire(sink.getsockname()[1])
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return JailNetwork(fd, sockets, sink)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack(IFREQ, b"lo", 0, b"")
        flags = struct.unpack(IFREQ, fcntl.ioctl(probe.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe.fileno(), SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP, b""))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def tripwire_rules(sink_port: int) -> str:
    """nftables: every TCP connection to a non-loopback IPv4 address goes to the sink."""
    return (
        f"table ip {TRIPWIRE_TABLE} {{\n"
        "  chain output {\n"
        "    type nat hook output priority -100; policy accept;\n"
        "    ip daddr 127.0.0.0/8 return;\n"
        f"    meta l4proto tcp redirect to :{sink_port};\n"
        "  }\n"
        "}\n"
    )


def _install_tripwire(sink_port: int) -> None:
    """Route everything over `lo` (so nothing fails before nftables sees it), then redirect."""
    _default_route_over_loopback()
    rules = tripwire_rules(sink_port).encode()
    library = _nftables_library()
    if library is None:
        done = subprocess.run(["nft", "-f", "-"], input=rules, capture_output=True, check=False)
        if done.returncode != 0:
            raise NetworkError(f"nft failed: {done.stderr.decode(errors='replace')[:300]}")
        return
    _run_nftables(library, rules)


def _run_nftables(library: ctypes.CDLL, rules: bytes) -> None:
    """Apply `rules` in this thread's namespace in-process: no `nft` to start per jail."""
    context = library.nft_ctx_new(0)
    if not context:
        raise NetworkError("nftables: cannot create a context")
    try:
        library.nft_ctx_buffer_error(context)
        if library.nft_run_cmd_from_buffer(context, rules) != 0:
            error = (library.nft_ctx_get_error_buffer(context) or b"").decode(errors="replace")
            raise NetworkError(f"nftables refused the tripwire: {error[:300]}")
    finally:
        library.nft_ctx_free(context)


class _SockaddrIn(ctypes.Structure):
    _fields_ = (
        ("family", ctypes.c_ushort),
        ("port", ctypes.c_ushort),
        ("address", ctypes.c_uint32),
        ("zero", ctypes.c_char * 8),
    )


class _RouteEntry(ctypes.Structure):
    """The kernel's `struct rtentry` (SIOCADDRT): saves running `ip route` per jail."""

    _fields_ = (
        ("pad1", ctypes.c_ulong),
        ("destination", _SockaddrIn),
        ("gateway", _SockaddrIn),
        ("genmask", _SockaddrIn),
        ("flags", ctypes.c_ushort),
        ("pad2", ctypes.c_short),
        ("pad3", ctypes.c_ulong),
        ("pad4", ctypes.c_void_p),
        ("metric", ctypes.c_short),
        ("device", ctypes.c_char_p),
        ("mtu", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("irtt", ctypes.c_ushort),
    )


def _default_route_over_loopback() -> None:
    """`ip route add default dev lo`, as ioctls of this (namespaced) thread."""
    # A connection to an outside address needs a source address other than 127.0.0.1
    # (the kernel never picks a loopback one for it, and 0.0.0.0 breaks the redirected
    # connection), so `lo` gets SOURCE_ADDRESS as an alias first.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        for request, address in ((SIOCSIFADDR, SOURCE_ADDRESS), (SIOCSIFNETMASK, HOST_MASK)):
            packed = socket.inet_aton(address)
            ifreq = struct.pack(IFREQ_ADDR, b"lo:0", socket.AF_INET, packed)
            fcntl.ioctl(handle.fileno(), request, ifreq)
        anywhere = _SockaddrIn(socket.AF_INET, 0, 0, b"")
        entry = _RouteEntry(destination=anywhere, gateway=anywhere, genmask=anywhere)
        entry.flags, entry.device = RTF_UP, b"lo"
        fcntl.ioctl(handle.fileno(), SIOCADDRT, bytes(entry))


def original_destination(sock: socket.socket) -> tuple[str, int]:
    """Where a redirected IPv4 connection was headed before nftables sent it to the sink."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, address = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(address), port
