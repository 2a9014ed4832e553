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


def _generator(seed: int, spawn_key: tuple[int, ...]) -> np.random.Generator:
    """A PCG64 generator for ``SeedSequence(seed, spawn_key=spawn_key)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn_key)))


def _block_generators(
    seed: int, prefix: tuple[int, ...], path_start: int, path_stop: int, block_size: int
) -> tuple[list[int], list[np.random.Generator]]:
    """Paths per block and one generator per block (``spawn_key = (*prefix, block)``)
    for the paths ``[path_start, path_stop)``.

    Raises:
        ValueError: ``path_start`` is not on a block boundary or the range is empty.
    """
    if path_start % block_size:
        raise ValueError(f"path_start {path_start} is not a multiple of {block_size}")
    if path_stop <= path_start:
        raise ValueError(f"empty path range [{path_start}, {path_stop})")
    blocks = range(path_start // block_size, (path_stop - 1) // block_size + 1)
    sizes = [min(block_size, path_stop - b * block_size) for b in blocks]
    return sizes, [_generator(seed, (*prefix, b)) for b in blocks]


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
        self.n = path_stop - path_start
        self.path_start = path_start
        self._sizes, self._gens = _block_generators(
            seed, (stream,), path_start, path_stop, block_size
        )

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


class PathGenerator:
    """A ``numpy.random.Generator`` facade whose draws do not depend on the sharding.

    What a component that randomises (an agent) is handed as ``rng``. Any
    ``Generator`` method can be called on it; how it draws depends on
    ``size``:

    * per-path draws (``size`` an int equal to :attr:`n`, or a tuple ending in
      :attr:`n`): each path block draws its own slice from its own generator,
      seeded by ``SeedSequence(seed, spawn_key=(*key, 0, block))``, and the
      slices are joined along the last axis. Array arguments whose last axis
      has length :attr:`n` (per-path parameters, which make a draw per-path
      without ``size``) are cut the same way; ``size`` must be passed by
      keyword (a positional per-path size is refused). Path
      ``i`` therefore gets the same numbers on one shard or on forty.
    * any other draw (``size`` None or not ending in :attr:`n`): from one
      generator shared by every shard, ``SeedSequence(seed, spawn_key=(*key, 1))``;
      every shard makes the same calls in the same order, so it is the same
      value everywhere.

    Args:
        seed: The scenario seed (non-negative int).
        key: Non-negative ints naming the stream (e.g. the agent's identity).
        path_start: First path index (a multiple of ``block_size``).
        path_stop: One past the last path index.
        block_size: Paths per block.

    Raises:
        ValueError: ``path_start`` is not on a block boundary or the range is empty.
    """

    def __init__(
        self,
        seed: int,
        key: tuple[int, ...],
        path_start: int,
        path_stop: int,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        self.n = path_stop - path_start
        self._sizes, self._gens = _block_generators(
            seed, (*key, 0), path_start, path_stop, block_size
        )
        self._shared = _generator(seed, (*key, 1))

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_") or not callable(getattr(self._shared, method, None)):
            raise AttributeError(f"{type(self).__name__} has no attribute {method!r}")

        def per_path(a: Any) -> bool:
            return isinstance(a, np.ndarray) and a.ndim > 0 and a.shape[-1] == self.n

        def draw(*args: Any, size: Any = None, **kwargs: Any) -> Any:
            shape = (size,) if isinstance(size, int | np.integer) else size
            arrays = [a for a in (*args, *kwargs.values()) if per_path(a)]
            if shape is None and arrays:
                shape = np.broadcast_shapes(*(a.shape for a in arrays))
            if shape is None or len(shape) == 0 or shape[-1] != self.n:
                sized = {} if size is None else {"size": size}
                out = getattr(self._shared, method)(*args, **sized, **kwargs)
                if size is None and per_path(out):
                    raise TypeError(
                        f"rng.{method}: pass a per-path size as size=... (a keyword), "
                        f"e.g. size={self.n}, so that each path block draws its own numbers"
                    )
                return out
            parts, start = [], 0
            for g, m in zip(self._gens, self._sizes, strict=True):

                def cut(a: Any, lo: int = start, hi: int = start + m) -> Any:
                    return a[..., lo:hi] if per_path(a) else a

                sub_args = [cut(a) for a in args]
                sub_kwargs = {k: cut(v) for k, v in kwargs.items()}
                sub_size = (*shape[:-1], m)
                parts.append(getattr(g, method)(*sub_args, size=sub_size, **sub_kwargs))
                start += m
            return np.concatenate(parts, axis=-1)

        return draw

    def snapshot(self) -> dict[str, Any]:
        """The generators' states (msgpack-encodable, as in :meth:`BlockRNG.snapshot`)."""
        return {"blocks": [_state(g) for g in self._gens], "shared": _state(self._shared)}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore states taken by :meth:`snapshot`."""
        for g, s in zip(self._gens, state["blocks"], strict=True):
            _set_state(g, s)
        _set_state(self._shared, state["shared"])


def _state(g: np.random.Generator) -> dict[str, Any]:
    st = dict(g.bit_generator.state)
    st["state"] = {k: str(v) for k, v in st["state"].items()}
    return st


def _set_state(g: np.random.Generator, s: dict[str, Any]) -> None:
    st = dict(s)
    st["state"] = {k: int(v) for k, v in st["state"].items()}
    g.bit_generator.state = st
