"""Notebooks: the kit's folder of them, a Jupyter kernel, papermill execution and the HTML report.

Everything here talks to papermill, jupyter_client, ipykernel or nbformat (imported when first
needed, so importing :mod:`simlib.batch` stays light); the batch's bookkeeping lives in
:mod:`simlib.batch.runner`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..io.atomic import pid_alive, storage_error
from ..reports import notebook_to_html

__all__ = [
    "declared_parameters",
    "ensure_kernel",
    "execute_notebook",
    "kernel_runtime",
    "notebooks_dir",
    "render_html",
]

_RUNTIME_PREFIX = "simlib-k"
#: errno values of a write that failed midway (the disk, not the notebook)
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}


def notebooks_dir() -> Path:
    """The kit's notebook folder (package data, see :mod:`simlib.io.resources`)."""
    from ..io import resources

    return resources.notebooks_dir()


def ensure_kernel() -> str:
    """Name of a Jupyter kernel that runs this Python (with simlib importable).

    Uses ``python3`` when its spec runs this interpreter (a bare ``python`` in its command is
    replaced by this interpreter by jupyter_client); otherwise registers this environment's
    ipykernel as the user kernel ``simlib`` and uses that.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    for name in ("python3", "simlib"):
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        exe = spec.argv[0] if spec.argv else ""
        if exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
            return name
        with contextlib.suppress(OSError):
            if Path(exe).resolve() == Path(sys.executable).resolve():
                return name
    from ipykernel.kernelspec import install

    install(user=True, kernel_name="simlib", display_name="Python 3 (simlib)")
    return "simlib"


@contextlib.contextmanager
def kernel_runtime() -> Iterator[Path]:
    """A private folder (mode 0700, short path in the system's temporary folder, as IPC socket
    paths are limited to about 100 bytes) for the connection files and IPC sockets of one
    batch's kernels, removed afterwards. Jupyter's defaults would put the sockets
    (``kernel-ipc-1`` ... ``-5``) in the notebook's folder, where two batches writing the same
    folder would share them. Folders that killed batches of this machine left are removed."""
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for old in root.glob(f"{_RUNTIME_PREFIX}*-*"):
            pid = old.name[len(_RUNTIME_PREFIX) :].partition("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{_RUNTIME_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kernel_manager_class(log: Path, runtime: Path) -> type:
    """A kernel manager that talks to its kernel over IPC sockets (no TCP ports) where the
    platform has them (TCP elsewhere), with its connection file and sockets in ``runtime`` (a
    name of their own for each kernel), and the kernel process's own output (start-up and
    shutdown messages, not cell outputs) going to the file ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    transport = "tcp" if sys.platform.startswith("win") else "ipc"

    class BatchKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            name = f"k{uuid.uuid4().hex[:8]}"  # short: socket paths stop at ~100 bytes
            kwargs.setdefault("connection_file", str(runtime / f"{name}.json"))
            if kwargs["transport"] == "ipc":
                kwargs.setdefault("ip", str(runtime / f"{name}-ipc"))
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with log.open("ab") as fh:
                kw.setdefault("stdout", fh)
                kw.setdefault("stderr", fh)
                await super().start_kernel(**kw)

    return BatchKernelManager


def execute_notebook(
    source: Path,
    dest: Path,
    parameters: dict[str, Any],
    kernel: str,
    cwd: Path,
    timeout: int | None = 1800,
    runtime: Path | None = None,
) -> None:
    """Run ``source`` with papermill into ``dest`` (written under a temporary name first).

    The kernel's connection file and IPC sockets go to ``runtime`` (a batch's
    :func:`kernel_runtime`; a folder of this call's own when None). On failure the partially
    executed notebook is still moved to ``dest`` (and the kernel process's own messages kept
    beside it in ``<name>.kernel.log``) and the error re-raised; a write that fails for want of
    space raises :class:`~simlib.errors.StorageError` naming ``dest``.
    """
    with contextlib.ExitStack() as stack:
        if runtime is None:
            runtime = stack.enter_context(kernel_runtime())
        try:
            _execute(source, dest, parameters, kernel, cwd, timeout, runtime)
        except OSError as exc:
            if exc.errno in _STORAGE_ERRNOS:
                raise storage_error(dest, exc, "this notebook") from exc
            raise


def _execute(
    source: Path,
    dest: Path,
    parameters: dict[str, Any],
    kernel: str,
    cwd: Path,
    timeout: int | None,
    runtime: Path,
) -> None:
    import papermill as pm

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.running.ipynb")
    log = dest.with_name(f"{dest.stem}.kernel.log")
    log.unlink(missing_ok=True)
    ok = False
    try:
        pm.execute_notebook(
            str(source),
            str(tmp),
            parameters=parameters,
            kernel_name=kernel,
            progress_bar=False,
            log_output=False,
            cwd=str(cwd),
            execution_timeout=timeout,
            kernel_manager_class=_kernel_manager_class(log, runtime),
        )
        ok = True
    finally:
        if tmp.exists():
            os.replace(tmp, dest)
        if ok or (log.exists() and log.stat().st_size == 0):
            log.unlink(missing_ok=True)


def declared_parameters(notebook: Path, standard: dict[str, Any]) -> dict[str, Any]:
    """The batch's standard parameters that ``notebook`` declares in its parameters cell."""
    import papermill as pm

    try:
        names = set(pm.inspect_notebook(str(notebook)))
    except Exception:  # an unreadable notebook fails when it runs, with its own error
        return standard
    return {k: v for k, v in standard.items() if k in names}


def render_html(ipynb: Path, html: Path, root: Path, show_code: bool, title: str) -> None:
    """Render the executed notebook ``ipynb`` to the offline HTML report ``html``, with this
    machine's paths shown relative to ``root`` (see :func:`_without_local_paths`)."""
    shown = _without_local_paths(ipynb, root)
    notebook_to_html(shown, html, show_code=show_code, title=title)


def _local_paths(root: Path) -> list[tuple[str, str]]:
    """(absolute local path, what a shared report shows instead), longest first."""
    pairs = {
        str(root): ".",
        str(Path(__file__).resolve().parents[2]): "<simlib>",  # the folder holding the package
        sys.prefix: "<python>",
        str(Path.home()): "~",
    }
    with contextlib.suppress(OSError):
        pairs.setdefault(str(root.resolve()), ".")
    return sorted(
        ((k, v) for k, v in pairs.items() if len(k) > 1), key=lambda kv: len(kv[0]), reverse=True
    )


def _without_local_paths(ipynb: Path, root: Path) -> Any:
    """The executed notebook as shown in its HTML report: absolute paths of this machine (the
    batch folder, the kit, the Python installation, the home folder, which names the user)
    turned into relative or neutral forms in every output and cell. The ``.ipynb`` file itself
    is left as executed."""
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    pairs = _local_paths(root)

    def clean(text: str) -> str:
        for path, shown in pairs:
            if path in text:
                text = text.replace(path + os.sep, "" if shown == "." else shown + "/")
                text = text.replace(path, shown)
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            for key in list(value):
                if not (isinstance(value[key], str) and key.startswith("image/")):
                    value[key] = walk(value[key])
            return value
        return value

    for cell in nb.cells:
        cell["source"] = clean(cell.get("source", ""))
        if "outputs" in cell:
            cell["outputs"] = [walk(o) for o in cell["outputs"]]
    return nb
