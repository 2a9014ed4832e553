"""Reaching a Ray cluster, and taking the user's own code to its workers.

:func:`ensure_ray` connects once. Before it hands an address to
``ray.init`` (which retries an unreachable one forever) it probes it: the
name must resolve, the port must accept a connection and answer as a gRPC
(HTTP/2) server, each within a few seconds; otherwise
:class:`ClusterUnreachable` says so in one line.

User code: a scenario script is imported under a private module name and
pickled by value (:func:`ship_user_modules`); the modules beside it (and
beside an ``--agents`` script) are shipped through Ray's ``runtime_env``
``py_modules``, one entry per top-level module or package of the script's
folder (:func:`user_modules`), so that on a worker they import exactly as
they do on the driver, where the folder is first on ``sys.path`` while the
script loads. Folders that are not Python packages (``.venv``, ``runs``,
``.git``, data) do not travel; a folder whose modules add up to more than
:data:`MAX_USER_CODE_BYTES` is refused.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import ray

from orchestration.config import ScenarioError, user_code_dirs

#: What a shipped package folder leaves behind (gitignore-style patterns).
EXCLUDES = ["__pycache__", "*.pyc", ".git", ".venv", "venv", "runs", "*.grlog", "*.parquet"]

#: Largest total size of user modules shipped to the workers, bytes.
MAX_USER_CODE_BYTES = 100 * 2**20

#: Seconds each step of the address probe (resolve, connect, answer) may take.
PROBE_TIMEOUT_S = 5.0

_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SKIP_DIRS = {"__pycache__", "runs", "venv", "node_modules", "build", "dist", "site-packages"}


class ClusterUnreachable(ScenarioError):
    """No Ray cluster answers at the address given (exit status 2)."""


class UserCodeError(ScenarioError):
    """User code cannot be shipped to, or imported on, a Ray worker (exit status 2)."""


def _line(exc: BaseException) -> str:
    """The first line of an exception's message (its type if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _resolve(host: str, port: int, timeout: float) -> list[Any]:
    """``getaddrinfo`` with a timeout (it has none of its own)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if "infos" in box:
        return list(box["infos"])
    if "error" in box:
        raise OSError(f"the name {host!r} does not resolve") from None
    raise OSError(f"resolving {host!r} took over {timeout:g} s")


def _answers_grpc(info: Any, timeout: float) -> str | None:
    """Connect and send the HTTP/2 preface; None if a server answered, else why not."""
    family, kind, proto, _, addr = info
    try:
        with socket.socket(family, kind, proto) as s:
            s.settimeout(timeout)
            s.connect(addr)
            if os.environ.get("RAY_USE_TLS", "0") not in ("", "0"):
                return None  # a TLS handshake would have to come first
            s.sendall(_HTTP2_PREFACE)
            head = s.recv(9)
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if len(head) >= 4 and head[3] == 0x04:  # a SETTINGS frame: HTTP/2, as gRPC speaks
        return None
    return "the port is open but does not answer as a Ray (gRPC) server"


def probe_address(address: str | None, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Check that a Ray cluster can answer at ``address`` (or ``RAY_ADDRESS``).

    Args:
        address: ``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:PORT"`` or None
            (then ``RAY_ADDRESS``; nothing to check when neither is set).
        timeout: Seconds for each of resolving, connecting and the answer.

    Raises:
        ClusterUnreachable: One line naming the address and what failed.
    """
    raw = address if address else os.environ.get("RAY_ADDRESS") or None
    if raw is None or raw == "local":
        return
    fail = f"cannot reach a Ray cluster at {raw!r}"
    if raw.startswith("ray://"):
        hostport: str | None = raw.removeprefix("ray://")
    else:
        from ray._private.services import canonicalize_bootstrap_address

        try:
            hostport = canonicalize_bootstrap_address(raw)
        except Exception as exc:  # "auto" with no cluster running, a malformed address
            raise ClusterUnreachable(f"{fail}: {_line(exc)}") from None
    if hostport is None:
        return
    host, sep, port_text = hostport.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ClusterUnreachable(f"{fail}: expected HOST:PORT")
    try:
        infos = _resolve(host, int(port_text), timeout)
    except OSError as exc:
        raise ClusterUnreachable(f"{fail}: {exc}") from None
    why = "no address"
    for info in infos[:4]:
        answer = _answers_grpc(info, timeout)
        if answer is None:
            return
        why = answer
    raise ClusterUnreachable(f"{fail}: {why} (is a head node running there?)")


def _module_name(entry: Path) -> str | None:
    """The top-level module an entry of a script folder is, if any."""
    name = entry.name
    if name.startswith((".", "_gammaray")) or name in _SKIP_DIRS:
        return None
    if entry.is_file() and entry.suffix == ".py" and entry.stem.isidentifier():
        return entry.stem
    if entry.is_dir() and name.isidentifier() and (entry / "__init__.py").is_file():
        return name
    return None


def _size(entry: Path) -> int:
    if entry.is_file():
        return entry.stat().st_size
    total = 0
    for root, dirs, files in os.walk(entry):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        total += sum((Path(root) / f).stat().st_size for f in files if not f.endswith(".pyc"))
    return total


def user_modules() -> list[str]:
    """Paths of the user's top-level modules and packages to ship to the workers.

    Every ``*.py`` file and every package (a folder with ``__init__.py``)
    beside a loaded scenario script, first folder first. An entry named like
    a module the driver imported from somewhere else (an installed package)
    stays behind: it would shadow that module on the workers.

    Raises:
        UserCodeError: They add up to more than :data:`MAX_USER_CODE_BYTES`.
    """
    seen: set[str] = set()
    out: list[str] = []
    total = 0
    for folder in user_code_dirs():
        for entry in sorted(folder.iterdir()):
            mod = _module_name(entry)
            if mod is None or mod in seen:
                continue
            loaded = sys.modules.get(mod)
            origin = getattr(loaded, "__file__", None) if loaded is not None else None
            if loaded is not None and (
                origin is None or not Path(origin).resolve().is_relative_to(entry.resolve())
            ):
                continue
            seen.add(mod)
            total += _size(entry)
            out.append(str(entry))
        if total > MAX_USER_CODE_BYTES:
            raise UserCodeError(
                f"the modules beside the scenario in {folder} add up to "
                f"{total / 2**20:.0f} MiB (at most {MAX_USER_CODE_BYTES // 2**20} MiB "
                "travel to the workers): move data files out of its packages"
            )
    return out


def user_code_runtime_env() -> dict[str, Any]:
    """A ``runtime_env`` fragment shipping :func:`user_modules` (uploaded, by URI).

    Ray must be initialised. Empty when there is nothing to ship.
    """
    modules = user_modules()
    if not modules:
        return {}
    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

    try:
        with tempfile.TemporaryDirectory(prefix="gammaray-ship-") as scratch:
            env = upload_py_modules_if_needed(
                {"py_modules": modules, "excludes": list(EXCLUDES)},
                include_gitignore=True,
                scratch_dir=scratch,
                logger=logging.getLogger("gammaray.ship"),
            )
    except Exception as exc:  # unreadable files, the cluster's package size limit
        raise UserCodeError(f"cannot ship the modules beside the scenario: {_line(exc)}") from None
    return {"py_modules": env["py_modules"]}


def ensure_ray(address: str | None = None) -> None:
    """Connect to Ray once: to ``address`` (or ``RAY_ADDRESS``), else start it in-process.

    The job's ``runtime_env`` carries the user's modules (:func:`user_modules`)
    when scenario scripts were loaded before the first connection.

    Args:
        address: ``"auto"``, ``"HOST:PORT"`` or None.

    Raises:
        ClusterUnreachable: Nothing answers at the address (checked before
            ``ray.init``, which would retry forever).
    """
    if ray.is_initialized():
        return
    probe_address(address)
    runtime_env: dict[str, Any] = {
        "worker_process_setup_hook": "orchestration._logging.setup_worker",
        "env_vars": {
            k: os.environ.get(k, "0") for k in ("GAMMARAY_LOG_JSON", "GAMMARAY_LOG_VERBOSE")
        },
    }
    modules = user_modules()
    if modules:
        runtime_env.update(py_modules=modules, excludes=list(EXCLUDES))
    verbose = os.environ.get("GAMMARAY_LOG_VERBOSE") == "1"
    kwargs: dict[str, Any] = {
        # Ray's own start-up chatter (token-auth notice, worker-pool notes) only
        # with -v; its errors always. Worker output (the agents' logs, tracebacks)
        # always reaches the driver.
        "logging_level": logging.INFO if verbose else logging.ERROR,
        "log_to_driver": True,
        "configure_logging": True,
        "runtime_env": runtime_env,
    }
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise ClusterUnreachable(
            f"cannot reach a Ray cluster at {address!r}: {_line(exc)}"
        ) from None
    except ray.exceptions.RuntimeEnvSetupError as exc:
        raise UserCodeError(f"cannot ship the modules beside the scenario: {_line(exc)}") from None


def local_node_gone(timeout: float = 2.0) -> str | None:
    """Why the Ray node this driver runs on is gone, or None while its raylet answers.

    A driver cannot outlive its node's raylet (Ray ends the process on its
    next use of the object store), so the run checks before it tries to
    recover from a lost actor.
    """
    node = getattr(ray._private.worker.global_worker, "node", None)
    if node is None:  # a Ray Client driver: nothing local to lose
        return None
    try:
        host, port = node.node_ip_address, int(node.node_manager_port)
    except Exception:
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"the raylet of this driver's node ({host}:{port}) is gone ({exc.strerror or exc})"


def silence_worker_logs() -> None:
    """Stop echoing worker output on this driver (once its node is gone).

    The processes of a lost node die with stack traces that Ray would
    forward here after the one line that says what happened.
    """
    try:
        from ray._private.worker import global_worker_stdstream_dispatcher

        global_worker_stdstream_dispatcher.remove_handler("ray_print_logs")
    except Exception:  # not connected, or nothing to remove
        pass


def ship_user_modules() -> None:
    """Pickle scenario scripts' modules by value, so workers need not import them.

    A scenario script loaded from a file (and the agent classes it defines)
    lives in a private module that exists only in this process; by value,
    its classes travel with the components to any node. The modules it
    imports from beside it travel by :func:`user_code_runtime_env`.
    """
    for name, module in list(sys.modules.items()):
        if name.startswith("_gammaray_scenario_") and module is not None:
            ray.cloudpickle.register_pickle_by_value(module)
