"""Peak resident memory of this process, for the benchmarks (Linux /proc; None elsewhere)."""

from __future__ import annotations


def reset_peak() -> bool:
    """Reset this process's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mib() -> float | None:
    """VmHWM, the peak resident set since the last reset, in MiB (None if unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
