"""The vectorised and single-option kernels behind :mod:`market.pricing.bsm` (private).

:func:`_evaluate` checks and broadcasts the arguments, splits large inputs
into chunks of :data:`CHUNK` elements and runs :func:`_kernel` on each with
reused per-thread scratch buffers; :func:`_one_option` is the Python-float
path for a single option. See :mod:`market.pricing.bsm` for the model, the
units, the degenerate cases and the determinism guarantees.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]

#: Most elements per chunk in the vectorised kernel: large enough to amortise
#: the ~60 ufunc calls per chunk, small enough for the chunk's ~25 arrays to
#: stay in the CPU caches. Results do not depend on it.
CHUNK = 16384

#: 1 / sqrt(2 pi): the standard normal density at 0.
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# An operand of the kernel: a flat float64 array (one chunk) or a float scalar.
_Operand = FloatArray | float


def _is_arr(x: object) -> bool:
    return type(x) is np.ndarray


def _dst(buf: FloatArray, *xs: object) -> FloatArray | None:
    """``buf`` when any of ``xs`` is an array (result is an array), else None."""
    for x in xs:
        if type(x) is np.ndarray:
            return buf
    return None


def _as_float(name: str, x: npt.ArrayLike) -> FloatArray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be real numbers: {exc}") from None


def _min(x: FloatArray) -> float:
    """Smallest non-NaN element (``inf`` if none), one pass without temporaries."""
    if x.ndim == 0:
        v = float(x)
        return math.inf if math.isnan(v) else v
    if x.size == 0:
        return math.inf
    return float(np.fmin.reduce(x, axis=None))


def _check_nonneg(name: str, x: FloatArray) -> bool:
    """Raise if ``x`` has a negative element; return whether it has a zero."""
    lo = _min(x)
    if lo < 0.0:
        raise ValueError(f"{name} must be non-negative, got {lo!r}")
    return lo == 0.0


def _flat(x: FloatArray, shape: tuple[int, ...]) -> _Operand:
    """A scalar for a size-1 argument, else a C-contiguous flat full-size array."""
    if x.size == 1:
        return float(x.reshape(()))
    if x.shape != shape:
        x = np.broadcast_to(x, shape)
    return np.ascontiguousarray(x).reshape(-1)


def _slice(x: _Operand, sl: slice) -> _Operand:
    return x[sl] if isinstance(x, np.ndarray) else x


def _take(x: _Operand, idx: npt.NDArray[np.intp]) -> _Operand:
    return x[idx] if isinstance(x, np.ndarray) else x


def _evaluate(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    div: npt.ArrayLike,
    is_call: npt.ArrayLike,
    fields: tuple[str, ...],
) -> list[FloatArray]:
    """Validate, broadcast, run the chunked kernel, patch the edge cases.

    One option (every argument of size 1) takes :func:`_one_option`, the same
    formulas on Python floats, when it is an interior case.
    """
    one = _one_option(spot, strike, tau, vol, rate, div, is_call)
    if one is not None:
        values, shape = one
        # One buffer, a disjoint view per output (cheaper than len(fields) arrays).
        buf = np.array([values[f] for f in fields])
        return [buf[i : i + 1].reshape(shape) for i in range(len(fields))]
    s_arr = _as_float("spot", spot)
    k_arr = _as_float("strike", strike)
    t_arr = _as_float("tau", tau)
    v_arr = _as_float("vol", vol)
    r_arr = _as_float("rate", rate)
    q_arr = _as_float("div", div)
    c_arr = np.asarray(is_call)
    if c_arr.dtype != np.bool_:
        if c_arr.dtype.kind not in "biuf":
            raise ValueError(f"is_call must be bool, got dtype {c_arr.dtype}")
        c_arr = c_arr.astype(np.bool_)
    maybe_degenerate = (
        _check_nonneg("spot", s_arr) | _check_nonneg("strike", k_arr) | _check_nonneg("vol", v_arr)
    )
    maybe_expired = _min(t_arr) <= 0.0
    shape = np.broadcast(s_arr, k_arr, t_arr, v_arr, r_arr, q_arr, c_arr).shape
    n = math.prod(shape)
    out = {f: np.empty(n, dtype=np.float64) for f in fields}
    if n == 0:
        return [out[f].reshape(shape) for f in fields]

    S = _flat(s_arr, shape)
    K = _flat(k_arr, shape)
    T = _flat(t_arr, shape)
    V = _flat(v_arr, shape)
    R = _flat(r_arr, shape)
    Q = _flat(q_arr, shape)
    # Sign w = +1 (call) / -1 (put) replaces the put/call branch. For an
    # is_call array it is made per chunk, in scratch (see _sign).
    W: _Operand = 1.0
    C: npt.NDArray[np.bool_] | None = None
    if c_arr.size == 1:
        W = 1.0 if bool(c_arr.reshape(())) else -1.0
    else:
        C = np.ascontiguousarray(np.broadcast_to(c_arr, shape)).reshape(-1)

    with np.errstate(all="ignore"):
        if n <= CHUNK:
            b = _buffers(n)
            _kernel(S, K, T, V, R, Q, W if C is None else _sign(C, b[-1]), out, b)
        else:
            # Balanced chunks of at most CHUNK elements (no tiny tail chunk).
            n_chunks = -(-n // CHUNK)
            size = -(-n // n_chunks)
            for start in range(0, n, size):
                stop = min(start + size, n)
                sl = slice(start, stop)
                b = _buffers(stop - start)
                _kernel(
                    _slice(S, sl),
                    _slice(K, sl),
                    _slice(T, sl),
                    _slice(V, sl),
                    _slice(R, sl),
                    _slice(Q, sl),
                    W if C is None else _sign(C[sl], b[-1]),
                    {f: o[sl] for f, o in out.items()},
                    b,
                )
        if maybe_expired or maybe_degenerate:
            _patch_edges(S, K, T, V, R, Q, W, C, out, n, maybe_expired, maybe_degenerate)
    return [out[f].reshape(shape) for f in fields]


def _size1(x: object) -> tuple[float, tuple[int, ...]] | None:
    """``(value, shape)`` of a real scalar or a size-1 float64 array, else None."""
    t = type(x)
    if t is float:
        return x, ()  # type: ignore[return-value]
    if t is np.ndarray:
        a: FloatArray = x  # type: ignore[assignment]
        if a.size == 1 and a.dtype == np.float64:
            return float(a.reshape(())), a.shape
        return None
    if t is int or t is np.float64:
        return float(x), ()  # type: ignore[arg-type]
    return None


#: Largest ``|rate * tau|`` and ``|div * tau|`` the one-option path takes
#: (beyond it ``exp`` may overflow; the general path handles it quietly).
_ONE_MAX_EXPONENT = 700.0


def _one_option(
    spot: object,
    strike: object,
    tau: object,
    vol: object,
    rate: object,
    div: object,
    is_call: object,
) -> tuple[dict[str, float], tuple[int, ...]] | None:
    """The six outputs of one interior option on Python floats, or None.

    The fast path for a single option (~10x less fixed cost than the array
    kernel). It performs the very operations of :func:`_kernel` in the same
    order: ``+ - * /`` and ``sqrt`` are IEEE-exact in Python as in numpy, and
    ``log``, ``exp`` and ``ndtr`` are the numpy/scipy ufuncs themselves
    (``math.exp`` and ``math.log`` round differently from numpy's SIMD loops),
    so every output is bit-identical to the array path (tested). Returns None
    -- the caller takes the general path -- for anything else: an argument
    with more than one element or another dtype, a negative, zero or NaN
    spot/strike/vol, an expired option, an ``is_call`` that is not a plain
    bool, exponents that may overflow, or a division by zero on the way.
    """
    if type(is_call) is bool:
        call = is_call
    elif type(is_call) is np.bool_:
        call = bool(is_call)
    else:
        return None
    args = []
    shape: tuple[int, ...] = ()
    for x in (spot, strike, tau, vol, rate, div):
        got = _size1(x)
        if got is None:
            return None
        args.append(got[0])
        if len(got[1]) > len(shape):
            shape = got[1]
    S, K, T, V, R, Q = args
    # Interior only: edge cases and NaN go through the general path.
    if not (S > 0.0 and K > 0.0 and V > 0.0 and T > 0.0 and R == R and Q == Q):
        return None
    rt = R * T
    qt = Q * T
    if abs(rt) > _ONE_MAX_EXPONENT or abs(qt) > _ONE_MAX_EXPONENT:
        return None
    try:
        sqt = math.sqrt(T)  # correctly rounded, as np.sqrt
        v = V * sqt
        hv = 0.5 * v
        carry = rt - qt
        m = float(np.log(S / K))
        m = (m + carry) / v
        d1 = m + hv
        d2 = m - hv
        dq = float(np.exp(-qt))
        dr = float(np.exp(-rt))
        w = 1.0 if call else -1.0
        n1 = float(ndtr(d1 if call else -d1))
        n2 = float(ndtr(d2 if call else -d2))
        sdq = S * dq
        e = float(np.exp(-0.5 * (d1 * d1))) * _INV_SQRT_2PI
        g = sdq * e
        big_a = sdq * n1
        big_b = (K * dr) * n2
        gamma = g / ((S * v) * S)
        theta = w * (Q * big_a - R * big_b) - g * (hv / T)
    except ZeroDivisionError:
        return None
    values = {
        "price": w * (big_a - big_b),
        "delta": w * (dq * n1),
        "gamma": gamma,
        "vega": g * sqt,
        "theta": theta,
        "rho": w * (T * big_b),
    }
    return values, shape


def _sign(is_call: npt.NDArray[np.bool_], buf: FloatArray) -> FloatArray:
    """``+1.0`` where ``is_call`` else ``-1.0``, into ``buf`` (2 cheap passes)."""
    np.multiply(is_call, 2.0, out=buf)
    return np.subtract(buf, 1.0, out=buf)


# Scratch arrays per thread: 14 for the kernel, the last one for the sign w.
_N_BUFFERS = 15
_SCRATCH = threading.local()


def _buffers(m: int) -> list[FloatArray]:
    """``_N_BUFFERS`` scratch arrays of length ``m <= CHUNK``, reused per thread.

    Reusing warm, already-mapped scratch memory matters: fresh ~1 MB of
    temporaries per call costs as much as the arithmetic (page faults).
    """
    bufs: list[FloatArray] | None = getattr(_SCRATCH, "bufs", None)
    if bufs is None or bufs[0].shape[0] != CHUNK:
        bufs = [np.empty(CHUNK, dtype=np.float64) for _ in range(_N_BUFFERS)]
        _SCRATCH.bufs = bufs
    return bufs if m == CHUNK else [x[:m] for x in bufs]


def _kernel(
    S: _Operand,
    K: _Operand,
    T: _Operand,
    V: _Operand,
    R: _Operand,
    Q: _Operand,
    W: _Operand,
    out: dict[str, FloatArray],
    b: list[FloatArray],
) -> None:
    """General BSM formulas on one chunk, written into the ``out`` views.

    Operands are chunk arrays or scalars; an intermediate that depends only on
    scalars stays a scalar (computed once), otherwise it goes to a fixed
    buffer of ``b``. The sequence of floating-point operations per element is
    the same whatever is requested, so every output is the same bit for bit
    whichever public function asked for it.
    """
    want_price = "price" in out
    want_delta = "delta" in out
    want_gamma = "gamma" in out
    want_vega = "vega" in out
    want_theta = "theta" in out
    want_rho = "rho" in out
    need_n1 = want_price or want_delta or want_theta
    need_n2 = want_price or want_theta or want_rho
    need_g = want_gamma or want_vega or want_theta
    need_dq = need_n1 or need_g
    need_dr = need_n2
    mul, sub, div, add, neg = np.multiply, np.subtract, np.divide, np.add, np.negative
    w_arr = _is_arr(W)
    w_neg = (not w_arr) and W < 0.0  # type: ignore[operator]

    def signed(x: _Operand, buf: FloatArray) -> _Operand:
        """``w * x`` (exact: w is +-1)."""
        if w_arr:
            return mul(W, x, out=buf)
        if w_neg:
            return neg(x, out=_dst(buf, x))
        return x

    def sign_in_place(dst: FloatArray) -> None:
        """``dst *= w`` (exact: w is +-1)."""
        if w_arr:
            mul(W, dst, out=dst)
        elif w_neg:
            neg(dst, out=dst)

    # Parameter terms (scalars when their inputs are scalars).
    sqt = np.sqrt(T, out=_dst(b[0], T))  # sqrt(tau)
    v = mul(V, sqt, out=_dst(b[1], V, sqt))  # total vol
    hv = mul(0.5, v, out=_dst(b[2], v))  # v / 2
    rt = mul(R, T, out=_dst(b[3], R, T))  # r tau
    qt = mul(Q, T, out=_dst(b[4], Q, T))  # q tau
    carry = sub(rt, qt, out=_dst(b[5], rt, qt))  # (r - q) tau

    # d1, d2 = ln(F/K) / v +- v/2.
    m = div(S, K, out=_dst(b[6], S, K))
    m = np.log(m, out=_dst(b[6], m))
    m = add(m, carry, out=_dst(b[6], m, carry))
    m = div(m, v, out=_dst(b[6], m, v))
    d1 = add(m, hv, out=_dst(b[7], m, hv))
    d2 = sub(m, hv, out=_dst(b[6], m, hv))  # m is dead from here

    dq: _Operand = 0.0
    dr: _Operand = 0.0
    if need_dq:
        dq = np.exp(neg(qt, out=_dst(b[4], qt)), out=_dst(b[4], qt))  # e^{-q tau}
    if need_dr:
        dr = np.exp(neg(rt, out=_dst(b[3], rt)), out=_dst(b[3], rt))  # e^{-r tau}

    n1: _Operand = 0.0
    n2: _Operand = 0.0
    if need_n1:
        a1 = signed(d1, b[8])
        n1 = ndtr(a1, out=_dst(b[8], a1))  # N(w d1)
    if need_n2:
        a2 = signed(d2, b[9])
        n2 = ndtr(a2, out=_dst(b[9], a2))  # N(w d2)

    sdq: _Operand = 0.0
    g: _Operand = 0.0
    if need_n1 or need_g:
        sdq = mul(S, dq, out=_dst(b[5], S, dq))  # S e^{-q tau}; carry is dead
    if need_g:
        # g = S e^{-q tau} phi(d1)
        e = mul(d1, d1, out=_dst(b[10], d1))
        e = mul(-0.5, e, out=_dst(b[10], e))
        e = np.exp(e, out=_dst(b[10], e))
        e = mul(e, _INV_SQRT_2PI, out=_dst(b[10], e))
        g = mul(sdq, e, out=_dst(b[10], sdq, e))

    big_a: _Operand = 0.0
    big_b: _Operand = 0.0
    if want_price or want_theta:
        big_a = mul(sdq, n1, out=_dst(b[11], sdq, n1))  # S e^{-q tau} N(w d1)
    if need_n2:
        kdr = mul(K, dr, out=_dst(b[12], K, dr))
        big_b = mul(kdr, n2, out=_dst(b[12], kdr, n2))  # K e^{-r tau} N(w d2)

    if want_price:
        sub(big_a, big_b, out=out["price"])
        sign_in_place(out["price"])
    if want_delta:
        mul(dq, n1, out=out["delta"])
        sign_in_place(out["delta"])
    if want_vega:
        mul(g, sqt, out=out["vega"])
    x: _Operand
    y: _Operand
    if want_gamma:
        # gamma = e^{-q tau} phi(d1) / (S v) = g / (S^2 v).
        x = mul(S, v, out=_dst(b[13], S, v))
        x = mul(x, S, out=_dst(b[13], x, S))
        div(g, x, out=out["gamma"])
    if want_theta:
        x = mul(Q, big_a, out=_dst(b[13], Q, big_a))
        y = mul(R, big_b, out=_dst(b[11], R, big_b))  # big_a is dead
        x = sub(x, y, out=_dst(b[13], x, y))
        x = signed(x, b[13])
        # Time decay S e^{-q tau} phi(d1) sigma / (2 sqrt(tau)) = g * (v/2) / tau.
        y = div(hv, T, out=_dst(b[11], hv, T))
        y = mul(g, y, out=_dst(b[11], g, y))
        sub(x, y, out=out["theta"])
    if want_rho:
        mul(T, big_b, out=out["rho"])
        sign_in_place(out["rho"])


def _patch_edges(
    S: _Operand,
    K: _Operand,
    T: _Operand,
    V: _Operand,
    R: _Operand,
    Q: _Operand,
    W: _Operand,
    C: npt.NDArray[np.bool_] | None,
    out: dict[str, FloatArray],
    n: int,
    maybe_expired: bool,
    maybe_degenerate: bool,
) -> None:
    """Overwrite expired and deterministic elements with their limits.

    ``W`` is the scalar sign, or ``C`` the flat is_call array when it varies.
    """
    expired: npt.NDArray[np.bool_] | np.bool_ | bool = False
    if maybe_expired:
        expired = np.less_equal(T, 0.0)
    degen: npt.NDArray[np.bool_] | np.bool_ | bool = False
    if maybe_degenerate:
        degen = np.equal(V, 0.0) | np.equal(S, 0.0) | np.equal(K, 0.0)
        if maybe_expired:
            degen = np.logical_and(degen, np.logical_not(expired))
    for mask, fill in ((expired, _fill_expired), (degen, _fill_deterministic)):
        if not np.any(mask):
            continue
        idx = np.flatnonzero(np.broadcast_to(mask, (n,)))
        w = W if C is None else np.where(C[idx], 1.0, -1.0)
        vals = fill(_take(S, idx), _take(K, idx), _take(T, idx), _take(R, idx), _take(Q, idx), w)
        for f, o in out.items():
            o[idx] = vals[f]


def _fill_expired(
    S: _Operand, K: _Operand, T: _Operand, R: _Operand, Q: _Operand, W: _Operand
) -> dict[str, _Operand]:
    """Expired: intrinsic value, step delta, all else zero."""
    x = np.multiply(W, np.subtract(S, K))
    itm = x > 0.0
    zero = 0.0
    return {
        "price": np.where(itm, x, 0.0),
        "delta": np.where(itm, W, 0.0),
        "gamma": zero,
        "vega": zero,
        "theta": zero,
        "rho": zero,
    }


def _fill_deterministic(
    S: _Operand, K: _Operand, T: _Operand, R: _Operand, Q: _Operand, W: _Operand
) -> dict[str, _Operand]:
    """Known payoff (zero vol, spot or strike): discounted forward intrinsic."""
    dq = np.exp(np.negative(np.multiply(Q, T)))
    dr = np.exp(np.negative(np.multiply(R, T)))
    sdq = np.multiply(S, dq)
    kdr = np.multiply(K, dr)
    x = np.multiply(W, np.subtract(sdq, kdr))
    itm = x > 0.0
    theta = np.multiply(W, np.subtract(np.multiply(Q, sdq), np.multiply(R, kdr)))
    rho = np.multiply(W, np.multiply(T, kdr))
    return {
        "price": np.where(itm, x, 0.0),
        "delta": np.where(itm, np.multiply(W, dq), 0.0),
        "gamma": 0.0,
        "vega": 0.0,
        "theta": np.where(itm, theta, 0.0),
        "rho": np.where(itm, rho, 0.0),
    }
