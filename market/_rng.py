"""Block-keyed random streams: the same paths whatever the sharding.

Paths are grouped in fixed blocks of :data:`BLOCK_SIZE`; block ``b`` draws from
its own ``PCG64`` seeded by ``SeedSequence(seed, spawn_key=(stream, b))``. A
shard holding paths ``[start, stop)`` (``start`` a multiple of the block size)
builds only its own blocks' generators, so path ``i`` sees the same numbers on
one process, on four shards or on forty: the run's bits do not depend on the
layout. Draws happen in a fixed order inside every block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Paths per random block. Shard boundaries must be multiples of it.
BLOCK_SIZE = 1024


class BlockRNG:
    """Random draws for a contiguous range of paths, keyed by path block.

    Args:
        seed: The scenario seed (non-negative int).
        stream: Which component's stream (e.g. 0 = market generator).
        path_start: First path index (a multiple of ``block_size``).
        path_stop: One past the last path index.
        block_size: Paths per block.

    Raises:
        ValueError: ``path_start`` is not on a block boundary or the range is empty.
    """

    def __init__(
        self,
        seed: int,
        stream: int,
        path_start: int,
        path_stop: int,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        if path_start % block_size:
            raise ValueError(f"path_start {path_start} is not a multiple of {block_size}")
        if path_stop <= path_start:
            raise ValueError(f"empty path range [{path_start}, {path_stop})")
        self.n = path_stop - path_start
        first = path_start // block_size
        last = (path_stop - 1) // block_size
        self._sizes = [min(block_size, path_stop - b * block_size) for b in range(first, last + 1)]
        self._gens = [
            np.random.Generator(
                np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream, b)))
            )
            for b in range(first, last + 1)
        ]

    def standard_normal(self, k: int) -> np.ndarray:
        """``k`` independent standard normals per path, shape ``[k, n]``."""
        return np.concatenate(
            [g.standard_normal((k, m)) for g, m in zip(self._gens, self._sizes, strict=True)],
            axis=1,
        )

    def uniform(self, k: int) -> np.ndarray:
        """``k`` independent U[0, 1) draws per path, shape ``[k, n]``."""
        return np.concatenate(
            [g.random((k, m)) for g, m in zip(self._gens, self._sizes, strict=True)], axis=1
        )

    def standard_t(self, df: float) -> np.ndarray:
        """One Student-t draw with ``df`` degrees of freedom per path, shape ``[n]``."""
        return np.concatenate(
            [g.standard_t(df, m) for g, m in zip(self._gens, self._sizes, strict=True)]
        )

    def poisson(self, lam: float) -> np.ndarray:
        """One Poisson(``lam``) count per path, shape ``[n]`` (int64)."""
        return np.concatenate(
            [g.poisson(lam, m) for g, m in zip(self._gens, self._sizes, strict=True)]
        )

    def binomial(self, trials: np.ndarray, p: float) -> np.ndarray:
        """One Binomial(``trials[i]``, ``p``) draw per path, shape ``[n]`` (int64)."""
        out, start = [], 0
        for g, m in zip(self._gens, self._sizes, strict=True):
            out.append(g.binomial(trials[start : start + m], p))
            start += m
        return np.concatenate(out)

    def snapshot(self) -> list[dict[str, Any]]:
        """The generators' states (plain dicts, msgpack-encodable).

        PCG64's 128-bit ``state`` and ``inc`` are kept as decimal strings
        (msgpack integers stop at 64 bits).
        """
        out = []
        for g in self._gens:
            st = dict(g.bit_generator.state)
            st["state"] = {k: str(v) for k, v in st["state"].items()}
            out.append(st)
        return out

    def restore(self, state: list[dict[str, Any]]) -> None:
        """Restore states taken by :meth:`snapshot`."""
        for g, s in zip(self._gens, state, strict=True):
            st = dict(s)
            st["state"] = {k: int(v) for k, v in st["state"].items()}
            g.bit_generator.state = st
