"""Named randomness: one root seed per run, one independent generator per named component.

Every random draw in medlink comes from ``component_rng(root_seed, *names)``. The names
(``"stream", "probe", "arrivals"``) are hashed into the spawn key of a numpy
:class:`~numpy.random.SeedSequence`, so a component's samples depend only on the root seed and
its own name. Adding a stream or a link changes no other component's samples, and two
variants of a scenario are compared on common random numbers.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["component_rng", "spawn_key"]


def spawn_key(*names: str) -> tuple[int, ...]:
    """A stable 128-bit key for a component name, as four 32-bit words.

    blake2b is used rather than :func:`hash`, which Python salts per process.
    """
    digest = hashlib.blake2b("/".join(names).encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def component_rng(root_seed: int, *names: str) -> np.random.Generator:
    """The generator of the component called ``names`` in a run seeded with ``root_seed``."""
    if root_seed < 0:
        raise ValueError(f"a seed must be >= 0, got {root_seed}")
    sequence = np.random.SeedSequence(entropy=root_seed, spawn_key=spawn_key(*names))
    return np.random.Generator(np.random.PCG64(sequence))
