"""Result files: results.json and packets.csv.gz, always written atomically.

Every file is first written to a temporary file in the destination folder, flushed to disk,
then renamed over the final name, so a reader never sees half a file and an interrupted run
leaves the previous result whole.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from .packetlog import ColumnBuffer, PacketLog
from .results import Results

__all__ = [
    "results_document",
    "write_json",
    "write_packets_csv",
    "write_packets_parquet",
    "packet_files",
    "atomic_write",
]

PACKET_COLUMNS = ("stream", "seq", "size_bytes", "t_send_s", "t_recv_s")


@contextmanager
def atomic_write(path: Path, binary: bool = False) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
        ) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def results_document(
    results: Results,
    scenario_file: str | None = None,
    scenario_sha256: str | None = None,
    scenario_document: dict | None = None,
    files: list[str] | None = None,
    now: Callable[[], _dt.datetime] | None = None,
) -> dict:
    """The results.json document: the run's figures plus where they came from.

    Only ``created_at`` depends on the wall clock; everything else is a function of the
    scenario and the seed.
    """
    doc = results.to_dict()
    clock = now or (lambda: _dt.datetime.now(_dt.UTC))
    doc["created_at"] = clock().isoformat(timespec="seconds")
    doc["scenario_file"] = scenario_file
    doc["scenario_sha256"] = scenario_sha256
    doc["files"] = files or ["results.json"]
    doc["scenario_as_run"] = scenario_document
    return doc


def write_json(path: Path, document: dict) -> None:
    """Write ``document`` as strict JSON (no NaN), atomically."""
    with atomic_write(path) as f:
        json.dump(document, f, indent=2, allow_nan=False)
        f.write("\n")


def write_packets_csv(path: Path, log: PacketLog, chunk: int = 1 << 18) -> None:
    """One row per packet, in send order: stream, seq, size_bytes, t_send_s, t_recv_s.

    Times have nanosecond resolution; ``t_recv_s`` is empty for a packet not delivered
    (lost, dropped or still in flight at the end).
    """
    columns = {k: getattr(log, k) for k in _LOG_COLUMNS}
    with atomic_write(path, binary=True) as raw:
        with _csv_gzip(raw) as gz:
            _write_csv_rows(gz, columns, len(log), log.stream_names, chunk)


_LOG_COLUMNS = ("stream", "seq", "size_bytes", "t_send_s", "t_recv_s", "fate", "link")


def _csv_gzip(raw: IO) -> gzip.GzipFile:
    gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0)
    gz.write((",".join(PACKET_COLUMNS) + "\n").encode())
    return gz


def _write_csv_rows(gz, columns, count: int, stream_names, chunk: int = 1 << 18) -> None:
    """Rows ``[0, count)`` of the columns (a PacketLog's names) as CSV text into ``gz``."""
    names = list(stream_names)
    for start in range(0, count, chunk):
        part = slice(start, min(count, start + chunk))
        recv = columns["t_recv_s"][part]
        recv_text = np.where(np.isnan(recv), "", np.char.mod("%.9f", recv))
        rows = zip(
            columns["stream"][part].tolist(),
            columns["seq"][part].tolist(),
            columns["size_bytes"][part].tolist(),
            columns["t_send_s"][part].tolist(),
            recv_text.tolist(),
            strict=True,
        )
        text = "".join(f"{names[s]},{q},{z},{t:.9f},{r}\n" for s, q, z, t, r in rows)
        gz.write(text.encode())


FATE_NAMES = ("delivered", "lost", "dropped", "in_flight")


def parquet_available() -> bool:
    """True when pyarrow is installed (the ``parquet`` extra)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_packets_parquet(path: Path, log: PacketLog) -> None:
    """The packet log as Parquet (needs pyarrow), atomically.

    The columns of packets.csv.gz, typed (``t_recv_s`` null when not delivered), plus the
    packet's ``fate`` (delivered, lost, dropped, in_flight) and the ``link`` that lost or
    dropped it (null otherwise); ``stream``, ``fate`` and ``link`` are dictionary-encoded.
    """
    import pyarrow.parquet as pq

    columns = {k: getattr(log, k) for k in _LOG_COLUMNS}
    table = _parquet_table(columns, len(log), log.stream_names, log.link_names)
    with atomic_write(path, binary=True) as raw:
        pq.write_table(table, raw, compression="zstd")


def _parquet_table(columns, count: int, stream_names, link_names):
    import pyarrow as pa

    c = {k: v[:count] for k, v in columns.items()}
    recv = c["t_recv_s"]
    link_index = c["link"].astype(np.int32)
    return pa.table(
        {
            "stream": pa.DictionaryArray.from_arrays(
                c["stream"].astype(np.int32), pa.array(list(stream_names))
            ),
            "seq": pa.array(c["seq"], type=pa.int64()),
            "size_bytes": pa.array(c["size_bytes"], type=pa.int64()),
            "t_send_s": pa.array(c["t_send_s"], type=pa.float64()),
            "t_recv_s": pa.array(recv, type=pa.float64(), mask=np.isnan(recv)),
            "fate": pa.DictionaryArray.from_arrays(
                c["fate"].astype(np.int32), pa.array(list(FATE_NAMES))
            ),
            "link": pa.DictionaryArray.from_arrays(
                pa.array(np.maximum(link_index, 0), mask=link_index < 0),
                pa.array(list(link_names) or [""]),
            ),
        }
    )


@contextmanager
def packet_files(
    out_dir: Path, stream_names: tuple[str, ...], link_names: tuple[str, ...], parquet: bool
) -> Iterator[Callable[[dict, int], None]]:
    """Write a run's packets to ``out_dir`` as they become final, in windows.

    Yields the sink for ``netsim.engine.simulate(..., packets=False, sink=...)``: each call
    ``sink(columns, count)`` writes rows ``[0, count)`` of the engine's columns, which are
    final, to packets.csv.gz (and to packets.parquet, one row group per call, when
    ``parquet``), so the run never holds its whole packet log. The files are temporary
    siblings until the ``with`` block ends without an error, then renamed into place (on an
    error nothing is left). Their contents equal :func:`write_packets_csv` and
    :func:`write_packets_parquet` of the full log.
    """
    with ExitStack() as stack:
        raw = stack.enter_context(atomic_write(Path(out_dir) / "packets.csv.gz", binary=True))
        gz = stack.enter_context(_csv_gzip(raw))
        state: dict = {}
        if parquet:
            state["raw"] = stack.enter_context(
                atomic_write(Path(out_dir) / "packets.parquet", binary=True)
            )

        def sink(columns: dict, count: int) -> None:
            _write_csv_rows(gz, columns, count, stream_names)
            if parquet and count:
                import pyarrow.parquet as pq

                table = _parquet_table(columns, count, stream_names, link_names)
                if "writer" not in state:
                    state["writer"] = pq.ParquetWriter(
                        state["raw"], table.schema, compression="zstd"
                    )
                    stack.callback(state["writer"].close)
                state["writer"].write_table(table)

        yield sink
        if parquet and "writer" not in state:  # no packets at all: an empty table
            import pyarrow.parquet as pq

            empty = {k: np.empty(0, dtype=t) for k, (t, _) in ColumnBuffer._SPEC.items()}
            table = _parquet_table(empty, 0, stream_names, link_names)
            pq.write_table(table, state["raw"], compression="zstd")


def unwritable_reason(out_dir: Path, option: str = "--out") -> str | None:
    """Why results could not be written to ``out_dir`` (one line), or None if they could.

    Checked before a run so that a bad folder costs nothing; nothing is created here.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            return f"{option}: {out_dir} exists and is not a folder"
        if not os.access(out_dir, os.W_OK | os.X_OK):
            return f"{option}: cannot write into {out_dir}: permission denied"
        return None
    parent = out_dir.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"{option}: cannot create {out_dir}: {parent} is not a writable folder"
    return None
