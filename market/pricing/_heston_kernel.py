"""The Heston integrals behind :mod:`market.pricing.heston` (private).

The characteristic function's parts, the sinh-mapped Gauss-Legendre rule with
its cutoff and panels, the fused evaluation of price and greek integrands over
deduplicated rows, the control-variate correction and the Chebyshev grouping
across a smile's options. See :mod:`market.pricing.heston` for the model, the
units and the accuracy.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.fft

from market.pricing.bsm import bsm_greeks, bsm_price

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

#: Gauss-Legendre nodes per panel.
NODES_PER_PANEL = 48
#: Panels in the ordinary case (48 nodes) and at most (6144 nodes).
MIN_PANELS, MAX_PANELS = 1, 128
#: Phase (radians) of the integrand over ``[0, U]`` allowed per panel.
PHASE_PER_PANEL = 72.0
#: Integrand envelope at the upper limit ``U`` (relative to the unit integrand at 0).
ENVELOPE_EPS = 1e-16
#: Scale of the sinh map, in units of the Gaussian core width ``1 / sqrt(w tau)``.
CORE_SCALE = 6.0
#: Largest ``U / core`` searched for the upper limit (pathological ``|rho| -> 1``).
MAX_CUTOFF = 1e6
#: Chebyshev interpolation across a group's options (see :func:`_group_integrals`):
#: options needed, extra degree beyond ``U L / 2`` and the check tolerance
#: (relative to the largest integral of the group).
CHEB_MIN_OPTIONS, CHEB_EXTRA, CHEB_TOL = 64, 40, 1e-13
#: Nodes × options per chunk (bounds the temporaries to a few MB).
WORK = 1 << 13


def _as_float(name: str, x: npt.ArrayLike) -> FloatArray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be real numbers: {exc}") from None


def _avg_total_var(
    tau: FloatArray, v0: FloatArray, kappa: FloatArray, th: FloatArray
) -> FloatArray:
    """Expected integrated variance ``w tau`` over ``[0, tau]``, decimal² × years."""
    return th * tau + (v0 - th) * (-np.expm1(-kappa * tau)) / kappa


def _csqrt(re: FloatArray, im: FloatArray) -> ComplexArray:
    """Principal square root of ``re + i im``, from real arithmetic (stable, fast)."""
    r = np.sqrt(re * re + im * im)
    t = np.sqrt(0.5 * (r + np.abs(re)))
    t = np.where(t > 0.0, t, 1.0)
    half = 0.5 * im / t
    pos = re >= 0.0
    out = np.empty(re.shape, dtype=np.complex128)
    out.real = np.where(pos, t, np.abs(half))
    out.imag = np.where(pos, half, np.copysign(t, im))
    return out


def _log1p_over(z: ComplexArray) -> ComplexArray:
    """``log(1 + z) / z`` for complex ``z`` (1 at 0), accurate for small ``|z|``."""
    a, b = z.real, z.imag
    out = np.empty(z.shape, dtype=np.complex128)
    out.real = 0.5 * np.log1p(a * (2.0 + a) + b * b)
    out.imag = np.arctan2(b, 1.0 + a)
    small = (np.abs(a) + np.abs(b)) < 1e-4
    if not small.any():
        out /= z
        return out
    zs = z[small]
    den = np.where(small, 1.0, z)
    out /= den
    out[small] = 1.0 - zs * (0.5 - zs * (1.0 / 3.0 - 0.25 * zs))
    return out


def _cf_parts(
    u: FloatArray, params: Sequence[FloatArray], derivs: bool
) -> tuple[ComplexArray, ComplexArray, ComplexArray | None]:
    """``C``, ``D`` with ``ln phi(u - i/2) = C + D v0``; with ``derivs`` also ``R``.

    ``phi`` is the characteristic function of ``ln(S_T/S_0) - (r - q) tau``;
    ``d ln phi / dtau = kappa theta_var D + v0 R`` (Riccati equations) with
    ``R = xi² D² / 2 - beta D - m / 2``. ``u``: real nodes ``[g, nodes]``;
    ``params``: ``tau, kappa, theta_var, xi, rho``, each ``[g, 1]``. At
    ``z = u - i/2``: ``iz + z² = u² + 1/4 =: m`` (real) and
    ``beta = kappa - rho xi i z = (kappa - rho xi / 2) - i rho xi u``.
    Little-trap form, rewritten without ``0/0`` at ``xi = 0``:
    ``beta - d = -xi² m / (beta + d)``, ``g = (beta - d) / (beta + d)``,
    ``D = -m (1 - e^{-d tau}) / ((beta + d)(1 - g e^{-d tau}))``,
    ``C = -kappa theta_var m [tau / (beta + d) - 2 (1 - e^{-d tau}) L(zeta)
    / ((beta + d)² (1 - g))]`` with ``zeta = g (1 - e^{-d tau}) / (1 - g)``
    and ``L(z) = log(1 + z) / z``.
    """
    tau, kappa, th, xi, rho = params
    mm = u * u + 0.25
    xi2 = xi * xi
    br = kappa - 0.5 * rho * xi
    bi = -(rho * xi) * u
    d = _csqrt(br * br - bi * bi + xi2 * mm, 2.0 * br * bi)
    bd = d + br
    bd.imag += bi
    inv_bd = 1.0 / bd
    inv_bd2 = inv_bd * inv_bd
    g = (-xi2 * mm) * inv_bd2  # (beta - d) / (beta + d)
    dt = d * tau
    e = np.exp(-dt)
    em1 = 1.0 - e  # 1 - e^{-d tau}; accurate where |d tau| is not small:
    near = np.abs(dt.real) + np.abs(dt.imag) < 0.25
    if near.any():
        em1[near] = -np.expm1(-dt[near])
    inv_one_g = 1.0 / (1.0 - g)
    gem1 = g * em1
    dd = (-mm) * inv_bd * em1 / (1.0 - g + gem1)  # D; 1 - g e = 1 - g + g (1 - e)
    lq = _log1p_over(gem1 * inv_one_g)
    cc = ((-kappa * th) * mm) * (tau * inv_bd - 2.0 * em1 * inv_bd2 * inv_one_g * lq)
    if not derivs:
        return cc, dd, None
    b = br + 1j * bi
    rr = (0.5 * xi2) * dd * dd - b * dd - 0.5 * mm
    return cc, dd, rr


@functools.lru_cache(maxsize=32)
def _rule(panels: int, nodes: int) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on ``[0, 1]``: ``panels`` × ``nodes``."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(0.0, 1.0, panels + 1)
    t = ((edges[:-1, None] + edges[1:, None]) / 2 + x[None, :] / (2 * panels)).ravel()
    wt = np.tile(w / (2 * panels), panels)
    t.flags.writeable = False
    wt.flags.writeable = False
    return t, wt


def _cutoff(
    params: Sequence[FloatArray], v0: FloatArray, wt: FloatArray
) -> tuple[FloatArray, ComplexArray, ComplexArray]:
    """Upper limit ``U`` of the integral, and ``C(U)``, ``D(U)``, per group (1-D arrays).

    ``params``: ``tau, kappa, theta_var, xi, rho`` of each group. ``v0`` and
    ``wt`` are the smallest of the group: the envelope decays the
    slowest there. Scans ``u`` upward from 0.6 × the Gaussian estimate until
    ``(|phi| + phi_w) / (u² + 1/4) <= ENVELOPE_EPS``: 4 trial points at once
    (ratio ``2^{1/4}``), then steps of 2 while far above, ``2^{1/4}`` near it.
    """
    log_eps = math.log(ENVELOPE_EPS)
    core = 1.0 / np.sqrt(wt)
    start = 0.6 * math.sqrt(-2.0 * log_eps) * core
    cap = MAX_CUTOFF * core
    n = v0.size
    upper = np.empty(n)
    c_up = np.empty(n, dtype=np.complex128)
    d_up = np.empty(n, dtype=np.complex128)
    cols = [p_[:, None] for p_ in params]
    # First shot: 4 trial points per group.
    trial = start[:, None] * 2.0 ** (np.arange(4) / 4.0)[None, :]
    cc, dd, _ = _cf_parts(trial, cols, derivs=False)
    mm = trial * trial + 0.25
    lnphi = cc + dd * v0[:, None]
    env = np.logaddexp(lnphi.real, -0.5 * mm * wt[:, None]) - np.log(mm)
    below = (env <= log_eps) | ~np.isfinite(env)
    hit = below.any(axis=1)
    j = np.argmax(below, axis=1)
    rows = np.flatnonzero(hit)
    upper[rows] = trial[rows, j[rows]]
    c_up[rows] = cc[rows, j[rows]]
    d_up[rows] = dd[rows, j[rows]]
    act = np.flatnonzero(~hit)
    u = trial[act, -1] * 2.0**0.25
    while act.size:
        args = [c_[act] for c_ in cols]
        cc1, dd1, _ = _cf_parts(u[:, None], args, derivs=False)
        cc1, dd1 = cc1[:, 0], dd1[:, 0]
        mm1 = u * u + 0.25
        lp = cc1 + dd1 * v0[act]
        env1 = np.logaddexp(lp.real, -0.5 * mm1 * wt[act]) - np.log(mm1)
        stop = (env1 <= log_eps) | (u >= cap[act]) | ~np.isfinite(env1)
        done = act[stop]
        upper[done] = u[stop]
        c_up[done] = cc1[stop]
        d_up[done] = dd1[stop]
        keep = ~stop
        act = act[keep]
        step = np.where(env1[keep] > log_eps + 8.0, 2.0, 2.0**0.25)
        u = np.minimum(u[keep] * step, cap[act])
    bad = ~np.isfinite(c_up) | ~np.isfinite(d_up)
    c_up[bad] = 0.0
    d_up[bad] = 0.0
    return upper, c_up, d_up


def _panels(osc: FloatArray) -> npt.NDArray[np.int64]:
    """Panels per group: the fewest powers of 2 keeping the phase per panel in bounds."""
    need = np.maximum(osc / PHASE_PER_PANEL, MIN_PANELS)
    p = MIN_PANELS * 2 ** np.ceil(np.log2(need / MIN_PANELS)).astype(np.int64)
    return np.minimum(p, MAX_PANELS)


def _nodes(upper: FloatArray, wt_max: FloatArray, panels: int) -> tuple[FloatArray, FloatArray]:
    """Nodes ``u`` and weights ``[g, N]`` of the sinh-mapped rule on ``[0, U]``.

    ``u = a sinh(s)``, ``s`` in ``[0, asinh(U / a)]``, ``a = CORE_SCALE / sqrt(w tau)``
    (with the largest ``w tau`` of the group: the narrowest Gaussian core).
    """
    t, w = _rule(panels, NODES_PER_PANEL)
    a = np.minimum(CORE_SCALE / np.sqrt(wt_max), upper)
    smax = np.arcsinh(upper / a)
    sv = smax[:, None] * t[None, :]
    u = a[:, None] * np.sinh(sv)
    wu = (w[None, :] * (smax * a)[:, None]) * np.cosh(sv)
    return u, wu


def _set_integrands(
    rows: _Rows,
    tau: FloatArray,
    v0: FloatArray,
    kappa: FloatArray,
    th: FloatArray,
    wt: FloatArray,
) -> ComplexArray:
    """Weighted integrands ``A`` ``[g, n_int, N]`` of whole groups (one ``v0`` each).

    ``A[:, 0]`` integrates to the price correction; with greeks also
    ``A[:, 1] = iu A[:, 0]`` (delta, theta), ``A[:, 2]`` (gamma: no
    ``1/(u² + 1/4)``), ``A[:, 3]`` (dV/dv0) and ``A[:, 4]`` (the
    ``d phi / dtau`` part of theta). Parameters ``[g, 1]``.
    """
    u, mm = rows.u, rows.mm
    dd = rows.dr + 1j * rows.di
    phi: ComplexArray = np.exp(rows.cr + 1j * rows.ci + dd * v0)
    gw = np.exp((-0.5 * wt) * mm)  # phi_w, real
    diff: ComplexArray = phi - gw
    if rows.rr is None:
        out1: ComplexArray = (diff * rows.w_m)[:, None, :]
        return out1
    tk = tau * kappa
    dg = (-0.5 * mm) * (-np.expm1(-tk) / kappa)  # d ln phi_w / dv0
    dg_tau = (-0.5 * mm) * (th + (v0 - th) * np.exp(-tk))  # d ln phi_w / dtau
    out = np.empty((u.shape[0], 5, u.shape[1]), dtype=np.complex128)
    out[:, 0] = diff * rows.w_m
    out[:, 1] = 1j * u * out[:, 0]
    out[:, 2] = diff * rows.wu
    out[:, 3] = (dd * phi - dg * gw) * rows.w_m
    out[:, 4] = (((kappa * th) * dd + v0 * rows.rr) * phi - dg_tau * gw) * rows.w_m
    return out


class _Rows(NamedTuple):
    """Per-group node data, each ``[g, N]``: nodes, weights, ``u² + 1/4``,
    weights / ``(u² + 1/4)``, and ``ln phi = C + D v0`` split in real parts."""

    u: FloatArray
    wu: FloatArray
    mm: FloatArray
    w_m: FloatArray
    cr: FloatArray
    ci: FloatArray
    dr: FloatArray
    di: FloatArray
    rr: ComplexArray | None  # R of the Riccati equation (greeks only)

    def take(self, idx: npt.NDArray[np.intp]) -> _Rows:
        """The rows ``idx`` (a gather per array)."""
        return _Rows(
            self.u[idx],
            self.wu[idx],
            self.mm[idx],
            self.w_m[idx],
            self.cr[idx],
            self.ci[idx],
            self.dr[idx],
            self.di[idx],
            None if self.rr is None else self.rr[idx],
        )


def _fused(
    rows: _Rows,
    x: FloatArray,
    tau: FloatArray,
    v0: FloatArray,
    kappa: FloatArray,
    th: FloatArray,
    wt: FloatArray,
) -> FloatArray:
    """The integrals of :func:`_set_integrands` reduced with ``e^{iux}``, one option per row.

    Real arithmetic: with ``ln phi = C + D v0 = l_r + i l_i``,
    ``Re[e^{iux} phi] = e^{l_r} cos(ux + l_i)``. ``rows`` ``[n, N]`` (gathered
    per option), ``x`` ``[n]``, parameters ``[n, 1]``; returns ``[n, n_int]``.
    """
    u, wu, mm, w_m = rows.u, rows.wu, rows.mm, rows.w_m
    ec = rows.dr * v0
    ec += rows.cr
    np.exp(ec, out=ec)  # |phi|
    ph0 = u * x[:, None]
    ph1 = rows.di * v0
    ph1 += rows.ci
    ph1 += ph0  # ux + arg(phi)
    gc = mm * (-0.5 * wt)
    np.exp(gc, out=gc)  # phi_w
    greeks = rows.rr is not None
    if greeks:
        es = np.sin(ph1)
        es *= ec
        gs = np.sin(ph0)
        gs *= gc
    ec *= np.cos(ph1, out=ph1)
    gc *= np.cos(ph0, out=ph0)
    diff = ec - gc
    if not greeks:
        return np.einsum("nj,nj->n", diff, w_m)[:, None]
    assert rows.rr is not None
    tk = tau * kappa
    dg = (-0.5 * mm) * (-np.expm1(-tk) / kappa)  # d ln phi_w / dv0
    dg_tau = (-0.5 * mm) * (th + (v0 - th) * np.exp(-tk))  # d ln phi_w / dtau
    xx = (kappa * th) * (rows.dr + 1j * rows.di) + v0 * rows.rr  # d ln phi / dtau
    out = np.empty((u.shape[0], 5))
    out[:, 0] = np.einsum("nj,nj->n", diff, w_m)
    out[:, 1] = -np.einsum("nj,nj->n", u * (es - gs), w_m)
    out[:, 2] = np.einsum("nj,nj->n", diff, wu)
    out[:, 3] = np.einsum("nj,nj->n", rows.dr * ec - rows.di * es - dg * gc, w_m)
    out[:, 4] = np.einsum("nj,nj->n", xx.real * ec - xx.imag * es - dg_tau * gc, w_m)
    return out


def _dedup(cols: list[FloatArray], n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """First index of each distinct row of ``cols`` and each row's distinct index.

    Columns are folded two at a time into complex keys: 1-D sorts, much
    faster than ``np.unique(axis=0)``.
    """
    if not cols:
        return np.zeros(1, dtype=np.intp), np.zeros(n, dtype=np.intp)
    key = cols[0] if len(cols) == 1 else cols[0] + 1j * cols[1]
    rest = cols[2:]
    while True:
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        if not rest:
            return first.astype(np.intp), inv.astype(np.intp)
        key = inv.astype(np.float64) + 1j * rest[0]
        rest = rest[1:]


def _evaluate(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    v0: npt.ArrayLike,
    kappa: npt.ArrayLike,
    theta_var: npt.ArrayLike,
    xi: npt.ArrayLike,
    rho: npt.ArrayLike,
    rate: npt.ArrayLike,
    div: npt.ArrayLike,
    is_call: npt.ArrayLike,
    greeks: bool,
) -> list[FloatArray]:
    names = ("spot", "strike", "tau", "v0", "kappa", "theta_var", "xi", "rho", "rate", "div")
    raw = [
        _as_float(nm, x)
        for nm, x in zip(
            names, (spot, strike, tau, v0, kappa, theta_var, xi, rho, rate, div), strict=True
        )
    ]
    call = np.asarray(is_call).astype(np.bool_)
    shape = np.broadcast_shapes(*(a.shape for a in raw), call.shape)
    n = math.prod(shape)
    flat = [np.broadcast_to(a, shape).reshape(-1) for a in raw]
    s, k, t, v, kp, th, x, rh, r, q = flat
    c = np.broadcast_to(call, shape).reshape(-1)

    with np.errstate(all="ignore"):
        wt = _avg_total_var(t, v, kp, th)  # w tau
        sig = np.where(t > 0.0, np.sqrt(np.maximum(wt, 0.0) / np.where(t > 0.0, t, 1.0)), 0.0)
        sig = np.where(np.isnan(wt), np.nan, sig)
    # Control variate (and every edge case: expired, zero spot or strike) by BSM.
    if greeks:
        base = bsm_greeks(s, k, t, sig, r, q, c)
        outs = [base.price.copy(), base.delta.copy(), base.gamma.copy()]
        outs += [np.zeros(n), np.zeros(n), base.theta.copy()]
    else:
        outs = [np.array(bsm_price(s, k, t, sig, r, q, c), dtype=np.float64).reshape(-1)]
    live = (t > 0.0) & (s > 0.0) & (k > 0.0) & (wt > 0.0)
    live &= np.isfinite(s) & np.isfinite(k) & np.isfinite(r) & np.isfinite(q)
    live &= np.isfinite(wt) & np.isfinite(x) & np.isfinite(rh)
    idx = np.flatnonzero(live)
    if greeks:
        with np.errstate(all="ignore"):
            # Greeks of the control variate through sigma_w(v0, tau).
            frac = -np.expm1(-kp * t) / (kp * t)  # d w / d v0
            safe_sig = np.where(sig > 0.0, sig, 1.0)
            vega_v0 = np.where(sig > 0.0, base.vega * frac / (2.0 * safe_sig), 0.0)
            w_now = th + (v - th) * np.exp(-kp * t)  # E[v_tau] = d(w tau)/d tau
            safe_t = np.where(t > 0.0, t, 1.0)
            dsig = np.where(sig > 0.0, (w_now - sig * sig) / (2.0 * safe_sig * safe_t), 0.0)
            outs[3] = vega_v0
            outs[5] = outs[5] - np.where(live, base.vega * dsig, 0.0)
    if idx.size:
        _correct(outs, idx, flat, wt, raw, greeks)
    if greeks:
        outs[4] = 2.0 * np.sqrt(v) * outs[3]
        outs[4] = np.where(v > 0.0, outs[4], 0.0)
    # Numerical noise must not push a price below the no-arbitrage floor.
    with np.errstate(all="ignore"):
        fwd = s * np.exp(-q * np.maximum(t, 0.0)) - k * np.exp(-r * np.maximum(t, 0.0))
        floor = np.maximum(np.where(c, fwd, -fwd), 0.0)
    outs[0] = np.where(live, np.maximum(outs[0], floor), outs[0])
    return [o.reshape(shape) for o in outs]


def _correct(
    outs: list[FloatArray],
    idx: npt.NDArray[np.intp],
    flat: list[FloatArray],
    wt_all: FloatArray,
    raw: list[FloatArray],
    greeks: bool,
) -> None:
    """Subtract the Lewis-integral corrections from the BSM values, in place.

    Options are grouped by ``tau, kappa, theta_var, xi, rho`` and the
    half-octave of ``w tau``: a group shares its nodes and the ``v0``-free
    parts ``C, D`` of ``ln phi = C + D v0``. When ``v0`` is shared too (a
    smile or a surface), the whole integrand is computed once per group and
    each option costs one ``cos`` and one ``sin`` per node (a BLAS product
    over the group's options); otherwise each option costs two ``exp`` and
    two ``cos`` per node (real arithmetic, :func:`_fused`).
    """
    s, k, t, v, kp, th, x, rh, r, q = (a[idx] for a in flat)
    wt = wt_all[idx]
    m = idx.size
    logm = np.log(s / k) + (r - q) * t  # x in the module docstring
    gcols = [p for p, i in zip((t, kp, th, x, rh), (2, 4, 5, 6, 7), strict=True) if raw[i].size > 1]
    v_shared = raw[3].size == 1
    if not v_shared or gcols:
        gcols.append(np.floor(2.0 * np.log2(wt)))
    g_first, g_inv = _dedup(gcols, m)
    n_g = g_first.size
    gp = [a[g_first] for a in (t, kp, th, x, rh)]
    if v_shared:
        v_min, w_min = v[g_first], wt[g_first]
        w_max = w_min
    else:
        v_min = np.full(n_g, np.inf)
        np.minimum.at(v_min, g_inv, v)
        w_min = np.full(n_g, np.inf)
        np.minimum.at(w_min, g_inv, wt)
        w_max = np.zeros(n_g)
        np.maximum.at(w_max, g_inv, wt)

    upper = np.empty(n_g)
    c_up = np.empty(n_g, dtype=np.complex128)
    d_up = np.empty(n_g, dtype=np.complex128)
    step = max(1, WORK // 8)
    for a in range(0, n_g, step):
        sl = slice(a, a + step)
        upper[sl], c_up[sl], d_up[sl] = _cutoff([p_[sl] for p_ in gp], v_min[sl], w_min[sl])
    # Phase of e^{iux} phi(u - i/2) over [0, U] -> panels, per option.
    osc = np.abs(logm * upper[g_inv] + c_up.imag[g_inv] + d_up.imag[g_inv] * v)
    o_panels = _panels(osc)

    # Options sorted by (panels, group): each tier's groups are evaluated on
    # that tier's nodes (a group may appear in several tiers).
    order = np.lexsort((g_inv, o_panels))
    sp, sg = o_panels[order], g_inv[order]
    n_int = 5 if greeks else 1
    acc = np.empty((m, n_int))
    tiers = np.flatnonzero(np.diff(sp, prepend=-1, append=-2))
    for ta, tb in itertools.pairwise(tiers):
        panels = int(sp[ta])
        per = max(1, WORK // (panels * NODES_PER_PANEL))
        starts = ta + np.flatnonzero(np.diff(sg[ta:tb], prepend=-1))  # first option of each group
        bounds = np.append(starts, tb)
        for ca in range(0, starts.size, per):
            cb = min(ca + per, starts.size)
            grp = sg[starts[ca:cb]]
            rows = _group_rows(upper[grp], w_max[grp], [p_[grp] for p_ in gp], panels, greeks)
            lo, hi = bounds[ca], bounds[cb]
            if v_shared and hi - lo >= 4 * (cb - ca):
                # One v0 per group, several options each: integrand once per
                # group, then one BLAS product over the group's options.
                f = g_first[grp]
                aa = _set_integrands(
                    rows, t[f, None], v[f, None], kp[f, None], th[f, None], wt[f, None]
                )
                for j in range(cb - ca):
                    oj = order[bounds[ca + j] : bounds[ca + j + 1]]
                    acc[oj] = _group_integrals(rows.u[j], aa[j], logm[oj], per)
                continue
            local = np.repeat(np.arange(cb - ca), np.diff(bounds[ca : cb + 1]))
            for b in range(0, hi - lo, per):
                o = order[lo + b : min(lo + b + per, hi)]
                gathered = rows.take(local[b : b + per])
                cols = [a_[o, None] for a_ in (t, v, kp, th, wt)]
                acc[o] = _fused(gathered, logm[o], *cols)

    disc = np.exp(-0.5 * (r + q) * t) / np.pi
    pref = np.sqrt(s * k) * disc
    outs[0][idx] -= pref * acc[:, 0]
    if not greeks:
        return
    i0, iiu, igam, iv0, itau = acc.T
    outs[1][idx] -= np.sqrt(k / s) * disc * (0.5 * i0 + iiu)
    outs[2][idx] += np.sqrt(k) / (s * np.sqrt(s)) * disc * igam
    outs[3][idx] -= pref * iv0
    outs[5][idx] += pref * (itau - 0.5 * (r + q) * i0 + (r - q) * iiu)


def _direct(u: FloatArray, aa: ComplexArray, x: FloatArray, per: int) -> FloatArray:
    """``sum_j Re[e^{i u_j x} A_j]`` for options ``x`` ``[n]`` of one group
    (``u`` ``[N]``, ``A`` ``[n_int, N]``): one BLAS product per chunk."""
    ar, ai = aa.real.T, aa.imag.T  # [N, n_int]
    out = np.empty((x.size, aa.shape[0]))
    for b in range(0, x.size, per):
        ph = x[b : b + per, None] * u
        out[b : b + per] = np.cos(ph) @ ar - np.sin(ph) @ ai
    return out


def _group_integrals(u: FloatArray, aa: ComplexArray, x: FloatArray, per: int) -> FloatArray:
    """Integrals of one group's integrands ``A`` ``[n_int, N]`` at the options ``x`` ``[n]``.

    ``I(x) = sum_j Re[e^{i u_j x} A_j]`` is band-limited (frequencies up to
    ``U = max u``), so over ``[min x, max x]`` its Chebyshev series converges
    super-exponentially beyond degree ``z = U (max x - min x) / 2``: with many
    options (a smile, a surface), ``I`` is evaluated directly at
    ``M = z + 12 z^{1/3} + 40`` Chebyshev points (past the Bessel-function
    transition region) and interpolated (Clenshaw), ``M`` instead of ``N``
    operations per option. Used only if the last Chebyshev coefficients are
    negligible and the interpolant matches direct evaluation at the extreme
    and 4 other options; any doubt falls back to direct evaluation.
    """
    n = x.size
    i_lo, i_hi = int(np.argmin(x)), int(np.argmax(x))
    lo, hi = float(x[i_lo]), float(x[i_hi])
    half = 0.5 * (hi - lo)
    z = float(u[-1]) * half  # bandwidth × half-width
    deg = int(z + 12.0 * z ** (1.0 / 3.0)) + CHEB_EXTRA
    if n < CHEB_MIN_OPTIONS or 4 * deg > n or not half > 0.0:
        return _direct(u, aa, x, per)
    mid = 0.5 * (hi + lo)
    nodes = mid + half * np.cos(np.pi * (np.arange(deg) + 0.5) / deg)
    vals = _direct(u, aa, nodes, per)  # [deg, n_int]
    coef = scipy.fft.dct(vals, type=2, axis=0) / deg
    coef[0] *= 0.5
    scale = np.maximum(1.0, np.abs(vals).max(axis=0))
    if np.any(np.abs(coef[-8:]).max(axis=0) > 1e-3 * CHEB_TOL * scale):
        return _direct(u, aa, x, per)  # series not converged
    out = np.polynomial.chebyshev.chebval((x - mid) / half, coef).T  # [n, n_int]
    picks = np.unique(np.r_[i_lo, i_hi, np.linspace(0, n - 1, 4).astype(np.intp)])
    check = _direct(u, aa, x[picks], per)
    if np.all(np.abs(out[picks] - check) <= CHEB_TOL * scale):
        out[picks] = check
        return np.ascontiguousarray(out)
    return _direct(u, aa, x, per)


def _group_rows(
    upper: FloatArray, wt_max: FloatArray, params: list[FloatArray], panels: int, greeks: bool
) -> _Rows:
    """Nodes, weights and ``C, D`` (``R``) of a chunk of groups, ``[g, N]`` each."""
    u, wu = _nodes(upper, wt_max, panels)
    cc, dd, rr = _cf_parts(u, [p_[:, None] for p_ in params], derivs=greeks)
    mm = u * u + 0.25
    return _Rows(
        u,
        wu,
        mm,
        wu / mm,
        np.ascontiguousarray(cc.real),
        np.ascontiguousarray(cc.imag),
        np.ascontiguousarray(dd.real),
        np.ascontiguousarray(dd.imag),
        rr,
    )
