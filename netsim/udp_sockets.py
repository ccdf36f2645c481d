"""UDP socket settings shared by the emulation's relay and its peers: larger buffers, and
the kernel's count of datagrams dropped for a full receive buffer."""

from __future__ import annotations

import asyncio

__all__ = ["SOCKET_BUFFER", "enlarge_buffers", "udp_receive_buffer_errors"]


SOCKET_BUFFER = 4 << 20
"""Receive and send buffer asked for on the relay's sockets (and the peers'): a keyframe at
40 Mbit/s is ~600 datagrams sent back to back, far more than Linux's default 208 KiB."""


def enlarge_buffers(transport: asyncio.BaseTransport, size: int = SOCKET_BUFFER) -> dict:
    """Ask for ``size``-byte socket buffers (capped by net.core.rmem_max / wmem_max);
    returns what the kernel granted (Linux reports twice the usable size)."""
    import socket

    sock = transport.get_extra_info("socket")
    if sock is None:
        return {}
    granted = {}
    for name, option in (("rcvbuf", socket.SO_RCVBUF), ("sndbuf", socket.SO_SNDBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            granted[name] = int(sock.getsockopt(socket.SOL_SOCKET, option))
        except OSError:
            pass
    return granted


def udp_receive_buffer_errors() -> int | None:
    """Datagrams the kernel dropped for a full receive buffer since boot (Linux), or None."""
    try:
        with open("/proc/net/snmp", encoding="ascii") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
        header, values = rows[0], rows[1]
        return int(values[header.index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return None
