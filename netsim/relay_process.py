"""The relay of :mod:`netsim.relay` in a child process.

In the peers' process a relay would read datagrams only between the peers' own work;
:class:`RelayProcess` runs it in its own process, with its own event loop (a precise one,
:func:`precise_loop`) and CPU, and answers the parent's commands over a pipe.
"""

from __future__ import annotations

import asyncio
import time

from .relay import Relay, RelayError, check_bind

__all__ = ["RelayProcess", "precise_loop"]


# ----- the relay in its own process --------------------------------------------------------
class RelayProcess:
    """A :class:`Relay` running in a child process, with its own event loop and CPU.

    In the peers' process a relay would read datagrams only between the peers' own work (a
    sender packetizing a keyframe holds the loop for tens of milliseconds), which delays
    arrival times and overflows socket buffers; in its own process it reads them as they
    come. ``time.monotonic`` is the system-wide CLOCK_MONOTONIC on Linux, so the child's
    ``t0`` is a time on the parent's clock. The methods mirror :class:`Relay`'s.
    """

    def __init__(self, links, routes, **kwargs) -> None:
        check_bind(kwargs.get("bind", "127.0.0.1"), kwargs.get("allow_remote", False))
        Relay(links, routes, **{**kwargs, "horizon_s": 1.0})  # validate here, not in the child
        self._args = (links, routes, kwargs)
        self._conn = None
        self._process = None
        self.final: dict | None = None

    def _call(self, *message, timeout: float = 10.0):
        self._conn.send(message)
        if not self._conn.poll(timeout):
            raise RelayError(f"the relay process did not answer {message[0]!r}")
        status, value = self._conn.recv()
        if status != "ok":
            raise RelayError(f"relay process: {value}")
        return value

    async def open(self) -> tuple[tuple[str, int], tuple[str, int]]:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_relay_process_main, args=(child, *self._args), daemon=True, name="relay"
        )
        self._process.start()
        child.close()
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self._conn.poll, 60.0)
        if not ready:
            raise RelayError("the relay process did not start")
        status, value = self._conn.recv()
        if status != "ok":
            raise RelayError(f"relay process: {value}")
        return tuple(value[0]), tuple(value[1])

    def set_peer(self, side: str, address: tuple[str, int]) -> None:
        self._call("peer", side, (str(address[0]), int(address[1])))

    def start_clock(self) -> float:
        return float(self._call("start"))

    def close(self) -> dict:
        """Stop the child; returns ``{"stats": ..., "transit": ...}`` (kept in ``final``)."""
        if self._process is None:
            return self.final or {}
        try:
            if self.final is None and self._process.is_alive():
                self.final = self._call("close")
        finally:
            self._process.join(5.0)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(1.0)
            self._conn.close()
            self._process = None
        return self.final or {}


def precise_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers fire within tens of microseconds.

    asyncio's default selector is epoll, whose timeout has a resolution of one millisecond
    and is rounded up, so every ``call_at`` fires up to 1 ms late; ``select(2)`` takes
    microseconds, and with three file descriptors it costs no more.
    """
    import selectors

    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def _relay_process_main(conn, links, routes, kwargs) -> None:
    """The child: run a Relay and answer the parent's commands until told to close."""
    with asyncio.Runner(loop_factory=precise_loop) as runner:
        runner.run(_relay_process(conn, links, routes, kwargs))


async def _relay_process(conn, links, routes, kwargs) -> None:
    loop = asyncio.get_running_loop()
    try:
        relay = Relay(links, routes, **kwargs)
        addresses = await relay.open()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", addresses))
    cpu0 = time.process_time()
    done = loop.create_future()

    def on_command() -> None:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent went away
            message = ("close",)
        try:
            kind = message[0]
            if kind == "peer":
                relay.set_peer(message[1], message[2])
                reply = None
            elif kind == "start":
                reply = relay.start_clock()
            elif kind == "close":
                relay.close()
                stats = relay.stats() | {"cpu_s": time.process_time() - cpu0}
                reply = {"stats": stats, "transit": relay.transit_summary()}
            else:
                raise ValueError(f"unknown command {kind!r}")
            conn.send(("ok", reply))
        except (EOFError, OSError, BrokenPipeError):
            kind = "close"
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        if kind == "close" and not done.done():
            done.set_result(None)

    loop.add_reader(conn.fileno(), on_command)
    try:
        await done
    finally:
        loop.remove_reader(conn.fileno())
        relay.close()
        conn.close()
