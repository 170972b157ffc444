"""`rugtheory exact`: the exact finite-n loss of saved weights, with its error bound (issue 5).

    rugtheory exact --weights FILE --p P [--rows K] [--seed S] [--instance I] [--device D] [--json]

FILE is one of
- a training run: the ``--out DIR`` of ``rugtheory train``, its ``DIR/checkpoint`` folder, or the
  ``weights.safetensors`` inside it (arrays ``W_in`` (K, m, n), ``W_out`` (K, n, m) unless tied,
  ``b`` (K, n)); every instance is reported, or only ``--instance I``;
- a rug saved with ``rugtheory rug --out DIR`` (arrays ``W`` and ``b``);
- a ``.npz`` or ``.safetensors`` file with arrays ``W`` (n, n) and ``b`` (n,), or ``W_in`` (m, n),
  ``W_out`` (n, m) and ``b`` (n,), giving W = W_out W_in (a leading instance axis is allowed).

The loss is ``rugtheory.numeric.exact.exact_loss`` (derivations/13_exact_loss.md): over all rows,
or ``--rows K`` rows drawn with ``--seed``, then with a standard error over rows. ``--device``
runs it with torch ('auto', 'cpu', 'cuda', 'cuda:N'; default numpy); an unavailable one is an error.
"""

from __future__ import annotations

import argparse
import math
import time
import zipfile
from pathlib import Path

import numpy as np

from .arguments import count

__all__ = ["add_parser", "load_weights", "payload", "run", "text"]


def add_parser(sub: argparse._SubParsersAction, number, emit):
    """Register ``exact`` on the subparsers; returns its handler (called with the parsed args)."""
    from ..parameters import FEATURE_PROBABILITY

    parser = sub.add_parser("exact", help="exact finite-n loss of saved weights, with a rigorous error bound")
    parser.add_argument("--weights", metavar="FILE", required=True,
                        help="a train/rug --out DIR, a checkpoint folder, or a .npz/.safetensors with W,b or W_in,W_out,b")
    parser.add_argument("--p", type=number(FEATURE_PROBABILITY), required=True,
                        help=f"feature probability, {FEATURE_PROBABILITY.domain_text()}")
    parser.add_argument("--rows", type=count, default=None, help="rows drawn at random, in [1, n] (default: all rows)")
    parser.add_argument("--seed", type=count, default=0, help="seed of the row draw (default 0)")
    parser.add_argument("--instance", type=count, default=None, help="only instance I of a multi-instance file (0-based)")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="run on torch: 'auto' (CUDA if available, else numpy), 'cpu', 'cuda' or 'cuda:N' "
                             "(default: numpy)")
    parser.add_argument("--json", action="store_true", help="print JSON (an object, or a list for several instances)")
    return lambda args: run(args, emit)


def _error(message: str):
    from ..checkpoint import CheckpointError

    return CheckpointError(message)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of FILE (see the module docstring); CheckpointError if unreadable."""
    from ..checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint

    valid = "valid: a train/rug --out DIR, a checkpoint folder, or a .npz/.safetensors file"
    if not path.exists():
        raise _error(f"--weights {str(path)!r} does not exist; {valid}")

    def require_safetensors() -> None:  # checked before reading: one line naming the extra
        try:
            import safetensors.numpy  # noqa: F401
        except ImportError:
            raise _error(f"--weights {str(path)!r}: reading safetensors needs the torch extra: "
                         "pip install 'rugtheory[torch]' (a .npz file needs no extra)") from None

    if path.is_dir():
        for folder in (path, path / "checkpoint"):
            if (folder / WEIGHTS_FILE).is_file() or (folder / CONFIG_FILE).is_file():
                require_safetensors()
                arrays, _ = load_checkpoint(folder)
                return arrays
        raise _error(f"--weights {str(path)!r} holds no {WEIGHTS_FILE}; {valid}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        require_safetensors()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {name: np.asarray(data[name]) for name in data.files}
        if suffix == ".safetensors":
            from safetensors.numpy import load

            return load(path.read_bytes())
    except Exception as error:  # corrupt files raise many types (zip, pickle refusal, safetensors, OS)
        kind = type(error).__name__
        if isinstance(error, (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)) or "Safetensor" in kind:
            raise _error(f"--weights {str(path)!r} cannot be read ({kind}); {valid}") from None
        raise
    raise _error(f"--weights {str(path)!r} has an unknown type {suffix or '(none)'!r}; {valid}")


def _stack(value: np.ndarray, name: str, dims: int) -> np.ndarray:
    """``value`` with a leading instance axis (added if absent); checked for rank and finiteness."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise _error(f"--weights: array {name} has dtype {array.dtype}; valid: a real array")
    array = array.astype(np.float64)
    if array.ndim == dims:
        array = array[None]
    if array.ndim != dims + 1:
        raise _error(f"--weights: array {name} has shape {value.shape}; valid: {dims} axes (or {dims + 1} with instances)")
    if not np.all(np.isfinite(array)):
        raise _error(f"--weights: array {name} has NaN or infinite entries; valid: finite numbers")
    return array


def load_weights(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) stacked over instances, W (K, n, n) and b (K, n), from FILE (module docstring)."""
    arrays = _read_arrays(Path(path))
    if "b" not in arrays or not ("W" in arrays or "W_in" in arrays):
        found = ", ".join(sorted(arrays)[:8]) or "none"
        raise _error(f"--weights {path!r} has no W and b (or W_in, W_out and b); found: {found}")
    b = _stack(arrays["b"], "b", 1)
    if "W" in arrays:
        W = _stack(arrays["W"], "W", 2)
    else:
        w_in = _stack(arrays["W_in"], "W_in", 2)
        w_out = _stack(arrays["W_out"], "W_out", 2) if "W_out" in arrays else np.swapaxes(w_in, 1, 2)  # tied
        if w_out.shape[0] != w_in.shape[0] or w_out.shape[2] != w_in.shape[1] or w_out.shape[1] != w_in.shape[2]:
            raise _error(f"--weights: W_in {w_in.shape[1:]} and W_out {w_out.shape[1:]} do not compose; "
                         "valid: W_in (m, n) and W_out (n, m)")
        W = w_out @ w_in
    k, n = W.shape[0], W.shape[1]
    if W.shape[2] != n or n < 2:
        raise _error(f"--weights: W has shape {W.shape[1:]}; valid: square n x n with n >= 2")
    if b.shape != (k, n):
        raise _error(f"--weights: b has shape {b.shape[1:]} for W of shape {W.shape[1:]}; valid: b of length n = {n}")
    return W, b


def payload(result, p: float, seconds: float, instance: int | None) -> dict:
    """The JSON object of one instance: ``loss_exact`` first, then the bound and the sampling."""
    data = result.to_dict()
    out = {"loss_exact": data["loss_exact"], "error_bound": data["error_bound"],
           "standard_error": data["standard_error"], "rows": data["rows"], "n": data["n"], "p": p,
           "seconds": seconds, "terms": data["terms"]}
    if instance is not None:
        out["instance"] = instance
    return out


def text(items: list[dict], path: str) -> str:
    """The human-readable report of ``exact``."""
    lines = [f"exact loss of {path}:"]
    for item in items:
        head = f"  instance {item['instance']}: " if "instance" in item else "  "
        sampled = (f"rows {item['rows']} of {item['n']} drawn, standard error over rows {item['standard_error']:.3g}"
                   if item["rows"] < item["n"] else f"all {item['n']} rows")
        relative = item["error_bound"] / item["loss_exact"] if item["loss_exact"] > 0 else math.inf
        if item["error_bound"] == 0:  # every row in closed form (W = 0, rows that never or always fire)
            bound = "exact to rounding"
        elif math.isfinite(relative):
            bound = f"rigorous bound, {relative:.2g} relative"
        else:  # relative to a zero (or subnormal) loss means nothing
            bound = "rigorous bound, absolute"
        lines.append(f"{head}L = {item['loss_exact']:.10g} +- {item['error_bound']:.3g} ({bound}) "
                     f"at p = {item['p']:.6g}; {sampled}; {item['seconds']:.2f} s")
    return "\n".join(lines)


def run(args: argparse.Namespace, emit) -> None:
    """Load FILE, compute each chosen instance's exact loss and print it."""
    from ..errors import ParameterError
    from ..numeric.exact import _resolve_device, exact_loss
    from ..parameters import FEATURE_PROBABILITY, check_seed

    p = float(FEATURE_PROBABILITY.validate(args.p))
    seed = check_seed(args.seed)
    device = getattr(args, "device", None)
    try:
        _resolve_device(device)
    except ParameterError as error:
        raise ParameterError(f"--{error}") from None  # "--device 'x' is not ..."
    W, b = load_weights(args.weights)
    k, n = W.shape[0], W.shape[1]
    if args.rows is not None and not 1 <= args.rows <= n:
        raise ParameterError(f"--rows {args.rows} is out of range; valid: rows an integer in [1, {n}]")
    if args.instance is not None and not 0 <= args.instance < k:
        raise ParameterError(f"--instance {args.instance} is out of range; valid: an integer in [0, {k - 1}]")
    chosen = [args.instance] if args.instance is not None else list(range(k))
    items = []
    for index in chosen:
        start = time.perf_counter()
        result = exact_loss(W[index], b[index], p, rows=args.rows, seed=seed, device=device)
        items.append(payload(result, p, time.perf_counter() - start, index if k > 1 else None))
    emit(items[0] if len(items) == 1 else items, args.json, text(items, args.weights))
