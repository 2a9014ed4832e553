"""A seeded, batch-synchronous maximiser on a box: Latin hypercube, then a trust region.

Pure numpy, no scenario or Ray knowledge: :mod:`orchestration.stress_search`
asks it for a batch of points, evaluates them (in parallel, in any order)
and hands back their values in proposal order. Every proposal depends only
on the seed and on the values of earlier batches, never on which
evaluation finished first, so the sequence of points is the same in-process
and on any Ray layout.

The search runs in the unit cube ``[0, 1]^d`` (each field scaled by its
bounds):

1. **Start**: a Latin hypercube of ``n_init`` points (every field's range
   cut into ``n_init`` strata, one point per stratum, strata paired at
   random).
2. **Refine**, one batch at a time, around the best point so far (the
   centre) within a radius ``r`` (starting at 0.25 of the box):

   * the *momentum* point: the centre moved again by the step that made it
     the centre (from the previous centre), doubled, clipped to the box, so
     a loss rising towards a bound reaches the bound in a few batches;
   * the *linear* point: the corner of the box that a least-squares linear
     fit of every value so far rises towards (a loss monotone in every
     field has its worst there);
   * the *axis* points: the centre ± ``r`` along each field, clipped to the
     box (a loss monotone in a field finds that field's bound exactly);
   * the rest of the batch: Gaussian draws around the centre with std ``r``
     per field, clipped (uniform draws over the box if those keep repeating
     points already proposed);
   * in a batch of three or more, one *exploration* point: of ``64 d``
     uniform draws, the one farthest (max-norm) from every point proposed,
     so a rough loss with a narrow peak elsewhere is not given up on.

   A batch that improves on the best doubles ``r`` (at most 0.5); one that
   does not halves it. Once ``r`` falls below ``min_radius`` the search
   restarts with a fresh Latin hypercube batch and ``r`` = 0.25.

Points equal to one already proposed (after the caller's rounding of
integer fields) are not proposed twice; a batch may come out short when the
box holds few distinct points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Starting (and restart) trust-region radius, fraction of each field's range.
START_RADIUS = 0.25
#: Largest radius.
MAX_RADIUS = 0.5


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in ``[0, 1]^d``, one in each of ``n`` strata of every axis.

    Args:
        n: Number of points.
        d: Number of dimensions.
        rng: Random generator (its draws are the only randomness).

    Returns:
        Array of shape ``(n, d)``.
    """
    u = rng.random((n, d))
    strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
    return (strata + u) / n


class TrustRegionSearcher:
    """Proposes batches of points in the unit cube to maximise a function.

    Args:
        dims: Number of searched fields (>= 1).
        seed: Seed of the searcher's only random generator.
        n_init: Size of the starting Latin hypercube.
        batch: Size of each refinement batch.
        snap: Maps unit points ``(n, d)`` to the points actually evaluated
            (integer fields rounded), still in unit coordinates; identity by
            default. Two proposals equal after ``snap`` are one.
        min_radius: Radius below which the search restarts (0.05: after three
            batches in a row that did not improve, from the starting radius).
        explore: Give one point of each batch of three or more to exploration.
    """

    def __init__(
        self,
        dims: int,
        seed: int,
        n_init: int,
        batch: int,
        snap: Callable[[np.ndarray], np.ndarray] | None = None,
        min_radius: float = 0.05,
        explore: bool = True,
    ) -> None:
        if dims < 1 or n_init < 1 or batch < 1:
            raise ValueError("dims, n_init and batch must be at least 1")
        self.d = dims
        self.rng = np.random.default_rng(seed)
        self.n_init = n_init
        self.batch = batch
        self.snap = snap or (lambda x: x)
        self.min_radius = min_radius
        self.explore = explore
        self.radius = START_RADIUS
        self.x = np.empty((0, dims))
        self.f = np.empty(0)
        self._best = -np.inf
        self._centres: list[int] = []
        self._restart = True

    def _fresh(self, points: np.ndarray, limit: int) -> np.ndarray:
        """``points`` snapped, without repeats of each other or of earlier proposals."""
        out: list[np.ndarray] = []
        for p in self.snap(np.clip(points, 0.0, 1.0)):
            seen = [*self.x, *out]
            if seen and np.min(np.max(np.abs(np.asarray(seen) - p), axis=1)) < 1e-12:
                continue
            out.append(p)
            if len(out) == limit:
                break
        return np.asarray(out).reshape(-1, self.d)

    def propose(self, n: int) -> np.ndarray:
        """The next batch: at most ``n`` new points, shape ``(k, d)``, ``k <= n``.

        Call :meth:`tell` with their values before the next ``propose``.
        """
        if self._restart:
            self._restart = False
            self.radius = START_RADIUS
            size = self.n_init if not len(self.x) else self.batch
            pts = self._fresh(latin_hypercube(max(size, n), self.d, self.rng), n)
            return pts if len(pts) else self._fill(np.empty((0, self.d)), n)
        best = int(np.argmax(self.f))  # first of equal values: the earliest
        centre = self.x[best]
        r = self.radius
        cands = []
        if len(self._centres) >= 2 and self._centres[-1] != self._centres[-2]:
            step = centre - self.x[self._centres[-2]]
            cands.append(centre + 2.0 * step)
        ok = np.isfinite(self.f)
        if ok.sum() > self.d + 1:  # the corner a linear fit of every value so far points to
            a = np.column_stack([self.x[ok], np.ones(int(ok.sum()))])
            slope = np.linalg.lstsq(a, self.f[ok], rcond=None)[0][: self.d]
            cands.append(np.where(slope > 0, 1.0, 0.0))
        for j in range(self.d):
            for sign in (1.0, -1.0):
                p = centre.copy()
                p[j] += sign * r
                cands.append(p)
        explore = self.explore and n >= 3  # one slot looks far from everything seen
        pts = self._fresh(np.asarray(cands), n - explore)
        pts = self._fill(pts, n - explore)
        if explore:
            pts = np.concatenate([pts, self._far(pts)])
        return pts

    def _far(self, taken: np.ndarray) -> np.ndarray:
        """The uniform draw (of ``64 d``) farthest from every point proposed, shape ``(<=1, d)``."""
        seen = np.concatenate([self.x, taken])
        draw = self.snap(self.rng.random((64 * self.d, self.d)))
        gap = np.min(np.max(np.abs(draw[:, None, :] - seen[None, :, :]), axis=2), axis=1)
        best = int(np.argmax(gap))
        return draw[best : best + 1] if gap[best] > 1e-12 else np.empty((0, self.d))

    def _fill(self, pts: np.ndarray, n: int) -> np.ndarray:
        """Top ``pts`` up to ``n``: Gaussian draws around the centre, then uniform ones."""
        tries = 0
        while len(pts) < n and tries < 40:
            tries += 1
            if len(self.f) and tries <= 20:
                centre = self.x[int(np.argmax(self.f))]
                draw = centre + self.radius * self.rng.standard_normal((n, self.d))
            else:
                draw = self.rng.random((n, self.d))
            more = self._fresh_given(draw, pts, n - len(pts))
            pts = np.concatenate([pts, more]) if len(more) else pts
        return pts

    def _fresh_given(self, draw: np.ndarray, taken: np.ndarray, limit: int) -> np.ndarray:
        saved = self.x
        self.x = np.concatenate([self.x, taken]) if len(taken) else self.x
        try:
            return self._fresh(draw, limit)
        finally:
            self.x = saved

    def tell(self, points: np.ndarray, values: np.ndarray) -> None:
        """Record a batch's values (NaN for a failed evaluation), in proposal order."""
        values = np.where(np.isfinite(values), values, -np.inf)
        self.x = np.concatenate([self.x, points])
        self.f = np.concatenate([self.f, values])
        if not len(self.f) or not np.isfinite(self.f).any():
            self._restart = True
            return
        best = float(np.max(self.f))
        improved = best > self._best
        if improved:
            self._best = best
            self._centres.append(int(np.argmax(self.f)))
        if len(self._centres) <= 1 and len(self.f) == len(points):
            return  # the first batch: it set the centre, no radius to adapt yet
        self.radius = min(MAX_RADIUS, 2.0 * self.radius) if improved else 0.5 * self.radius
        if self.radius < self.min_radius:
            self._restart = True
