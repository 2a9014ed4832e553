"""market._rng.BlockRNG: draws keyed by path block, independent of the sharding."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from market._rng import BLOCK_SIZE, BlockRNG


def _draw_sequence(rng: BlockRNG) -> list[np.ndarray]:
    """Several draw calls in a fixed order, as a generator makes them step after step."""
    out = []
    for _ in range(3):
        out.append(rng.standard_normal(2))
        out.append(rng.uniform(1))
        out.append(rng.standard_t(3.0))
        out.append(rng.standard_normal(1))
        out.append(rng.uniform(3))
        out.append(rng.standard_t(7.5))
    return out


def _concat(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.concatenate(arrs, axis=-1) for arrs in zip(*parts, strict=True)]


def _assert_bitwise(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype == np.float64
        assert x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def test_block_size_is_1024() -> None:
    assert BLOCK_SIZE == 1024


def test_shapes() -> None:
    rng = BlockRNG(7, 0, 0, 2500)
    assert rng.n == 2500
    assert rng.standard_normal(3).shape == (3, 2500)
    assert rng.uniform(2).shape == (2, 2500)
    assert rng.standard_t(4.0).shape == (2500,)
    u = rng.uniform(4)
    assert u.min() >= 0.0 and u.max() < 1.0


@pytest.mark.parametrize("n", [3000, 2049, 3072])
def test_shards_concatenate_to_the_whole_bit_for_bit(n: int) -> None:
    whole = _draw_sequence(BlockRNG(11, 0, 0, n))
    shards = [
        _draw_sequence(BlockRNG(11, 0, 0, 1024)),
        _draw_sequence(BlockRNG(11, 0, 1024, 2048)),
        _draw_sequence(BlockRNG(11, 0, 2048, n)),
    ]
    _assert_bitwise(whole, _concat(shards))


def test_two_block_shard_matches_the_tail_of_the_whole() -> None:
    whole = _draw_sequence(BlockRNG(5, 2, 0, 3000))
    tail = _draw_sequence(BlockRNG(5, 2, 1024, 3000))
    _assert_bitwise([w[..., 1024:] for w in whole], tail)


def test_small_block_size_sharding() -> None:
    whole = _draw_sequence(BlockRNG(3, 1, 0, 10, block_size=4))
    parts = [
        _draw_sequence(BlockRNG(3, 1, a, b, block_size=4)) for a, b in [(0, 4), (4, 8), (8, 10)]
    ]
    _assert_bitwise(whole, _concat(parts))


def test_same_seed_same_draws_different_seed_or_stream_differs() -> None:
    a = BlockRNG(1, 0, 0, 100).standard_normal(1)
    b = BlockRNG(1, 0, 0, 100).standard_normal(1)
    c = BlockRNG(2, 0, 0, 100).standard_normal(1)
    d = BlockRNG(1, 1, 0, 100).standard_normal(1)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_blocks_are_independent_streams() -> None:
    z = BlockRNG(9, 0, 0, 2048).standard_normal(1)[0]
    assert not np.array_equal(z[:1024], z[1024:])


@pytest.mark.parametrize("start", [1, 512, 1023, 1025, 3000])
def test_unaligned_start_raises(start: int) -> None:
    with pytest.raises(ValueError, match="multiple"):
        BlockRNG(0, 0, start, start + 10)


def test_unaligned_start_with_custom_block_size_raises() -> None:
    BlockRNG(0, 0, 8, 20, block_size=4)
    with pytest.raises(ValueError):
        BlockRNG(0, 0, 6, 20, block_size=4)


@pytest.mark.parametrize(("start", "stop"), [(0, 0), (1024, 1024), (1024, 10)])
def test_empty_range_raises(start: int, stop: int) -> None:
    with pytest.raises(ValueError, match="empty"):
        BlockRNG(0, 0, start, stop)


def test_snapshot_restore_reproduces_next_draws() -> None:
    rng = BlockRNG(21, 0, 0, 2500)
    rng.standard_normal(2)
    rng.standard_t(3.0)
    snap = rng.snapshot()
    first = _draw_sequence(rng)
    rng.restore(snap)
    again = _draw_sequence(rng)
    _assert_bitwise(first, again)
    # A fresh generator over the same paths restored from the snapshot continues the same way.
    fresh = BlockRNG(21, 0, 0, 2500)
    fresh.restore(snap)
    _assert_bitwise(first, _draw_sequence(fresh))


def test_snapshot_is_not_changed_by_later_draws() -> None:
    rng = BlockRNG(4, 0, 0, 1500)
    snap = rng.snapshot()
    before = repr(snap)
    rng.standard_normal(5)
    assert repr(snap) == before
    assert len(snap) == 2  # one state per block


def test_restore_with_wrong_number_of_blocks_raises() -> None:
    snap = BlockRNG(4, 0, 0, 1500).snapshot()
    with pytest.raises(ValueError):
        BlockRNG(4, 0, 0, 500).restore(snap)


def test_snapshot_is_msgpack_encodable() -> None:
    snap = BlockRNG(4, 0, 0, 1500).snapshot()
    assert msgpack.unpackb(msgpack.packb(snap), strict_map_key=False) == snap
