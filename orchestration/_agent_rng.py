"""Each agent's random generator, keyed so that runs keep their bits on any layout.

An agent's ``rng`` is a :class:`~market._rng.PathGenerator` seeded by the
scenario seed and the stream ``(AGENT_STREAM, configuration, agent)``, the
names hashed to integers with sha256 (stable across processes, unlike
``hash``). Its per-path draws are keyed by path block, so the same agent of
the same configuration draws the same numbers for path ``i`` in-process, on
any number of shards and on Ray; two agents (or one agent in two
configurations) draw independent streams.
"""

from __future__ import annotations

import hashlib

from market._rng import PathGenerator

#: Stream id of agents' generators (the market's is 0, the book's flow 1).
AGENT_STREAM = 2


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def agent_rng(seed: int, config: str, agent: str, path_start: int, path_stop: int) -> PathGenerator:
    """The generator of agent ``agent`` of configuration ``config`` for a range of paths.

    Args:
        seed: The scenario seed.
        config: The hedging configuration's name.
        agent: The agent's name in it.
        path_start: First path of the shard (a multiple of the block size).
        path_stop: One past its last path.
    """
    key = (AGENT_STREAM, _name_key(config), _name_key(agent))
    return PathGenerator(seed, key, path_start, path_stop)
