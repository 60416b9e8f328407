"""Loaded by every Python process of an offline test (through PYTHONPATH): the network guard.

Any connection or name lookup that leaves this machine is refused and written to the file
named by HEARTH_OFFLINE_LOG, so the test can fail on it even when the caller swallows the error.
"""

import errno
import ipaddress
import os
import socket

LOCAL_NAMES = {"localhost", "localhost.localdomain", "", None}


def _is_local(host: object) -> bool:
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _record(host: object) -> None:
    with open(os.environ["HEARTH_OFFLINE_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} tried to reach {host}\n")


def _guard(method):  # type: ignore[no-untyped-def]
    def guarded(self, address, *args):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _record(address[0])
            raise OSError(errno.ENETUNREACH, f"offline test: {address[0]} is outside this machine")
        return method(self, address, *args)

    return guarded


def _guard_lookup(lookup):  # type: ignore[no-untyped-def]
    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _is_local(host.decode() if isinstance(host, bytes) else host):
            _record(host)
            raise socket.gaierror(socket.EAI_NONAME, f"offline test: no lookups of {host}")
        return lookup(host, *args, **kwargs)

    return guarded


if os.environ.get("HEARTH_OFFLINE_LOG"):
    socket.socket.connect = _guard(socket.socket.connect)
    socket.socket.connect_ex = _guard(socket.socket.connect_ex)
    socket.getaddrinfo = _guard_lookup(socket.getaddrinfo)
