"""The training configuration of a batch of toy-model instances (THEORY.md, "Model and loss").

A ``TrainConfig`` describes K instances with the same n (features) and m (hidden units) that are
trained together in one tensor program. They may differ in feature probability p and in seed.
Instances with different ratios r have different m, so they go in separate configs:
``group_by_hidden`` splits a list of (p, r, seed) into such groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ParameterError
from ..parameters import FEATURE_PROBABILITY, N_FEATURES, RATIO, Parameter, check_seed

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BIAS_LR",
    "DEFAULT_CHECKPOINT_SECONDS",
    "DEFAULT_STEPS",
    "DTYPES",
    "KERNELS",
    "SAVING_FIELDS",
    "SCHEDULES",
    "InstanceGroup",
    "TrainConfig",
    "default_lr",
    "group_by_hidden",
    "hidden_size",
]

# The defaults, measured against the reference settings in benchmarks/results/train_defaults.md.
DEFAULT_STEPS = 20_000
DEFAULT_BATCH_SIZE = 1024
DEFAULT_LR_SCALE = 3e-2  # weights: lr = DEFAULT_LR_SCALE / sqrt(n)
DEFAULT_BIAS_LR = 1e-4  # the bias b: an absolute rate, the same at every n
DEFAULT_CHECKPOINT_SECONDS = 60.0  # a kill loses at most this much training
# Fields that say how a run is saved, not what it computes: a resumed run may change them.
SAVING_FIELDS = ("checkpoint_every", "checkpoint_seconds")
DTYPES = ("float32", "float64")
SCHEDULES = ("wsd", "constant")
KERNELS = ("dense", "sparse")
_MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a 64-bit integer

# The training parameters, declared once (STYLE.md, rule 3): validation and messages read these.
STEPS = Parameter("steps", "steps", "number of optimizer steps", 1, math.inf, integer=True)
BATCH_SIZE = Parameter("batch_size", "batch_size", "samples per instance per step", 1, math.inf, integer=True)
LR = Parameter("lr", "lr", "peak Adam learning rate of the weights", 0.0, math.inf, lower_open=True, upper_open=True)
BIAS_LR = Parameter("bias_lr", "bias_lr", "peak Adam learning rate of the bias", 0.0, math.inf, lower_open=True,
                    upper_open=True)
SMOOTHING = Parameter("smoothing", "smoothing", "weight of the newest loss window in the smoothed loss", 0.0, 1.0,
                      lower_open=True)
WARMUP_FRACTION = Parameter(
    "warmup_fraction", "warmup_fraction", "fraction of the steps spent in the linear warm-up", 0.0, 1.0,
    upper_open=True,
)
DECAY_FRACTION = Parameter(
    "decay_fraction", "decay_fraction", "fraction of the steps spent in the final cosine decay", 0.0, 1.0,
)
FINAL_LR_FRACTION = Parameter(
    "final_lr_fraction", "final_lr_fraction", "learning rate at the end of the decay, relative to lr", 0.0, 1.0,
)
ADAM_BETA = Parameter("adam_beta", "beta", "Adam moment decay", 0.0, 1.0, upper_open=True)
ADAM_EPS = Parameter("adam_eps", "eps", "Adam denominator offset", 0.0, math.inf, lower_open=True, upper_open=True)
CHECKPOINT_EVERY = Parameter(
    "checkpoint_every", "checkpoint_every", "steps between checkpoints (0: none by step count)", 0, math.inf,
    integer=True,
)
CHECKPOINT_SECONDS = Parameter(
    "checkpoint_seconds", "checkpoint_seconds", "seconds of training between checkpoints (0: none by time)", 0.0,
    math.inf, upper_open=True,
)
LOG_EVERY = Parameter("log_every", "log_every", "steps between reads of the loss", 1, math.inf, integer=True)
PATIENCE = Parameter(
    "patience", "patience", "steps without improvement before stopping (0: never stop early)", 0, math.inf,
    integer=True,
)
REL_TOL = Parameter("rel_tol", "rel_tol", "relative improvement that counts", 0.0, 1.0, upper_open=True)


def default_lr(n_features: int) -> float:
    """The default weight learning rate, ``3e-2 / sqrt(n)`` (benchmarks/results/train_defaults.md)."""
    return DEFAULT_LR_SCALE / math.sqrt(n_features)


def hidden_size(n_features: int, ratio: float) -> int:
    """m = round(r n), rounding halves up; ParameterError if that leaves no hidden unit.

    >>> hidden_size(64, 0.25), hidden_size(10, 0.25)
    (16, 3)
    """
    n = N_FEATURES.validate(n_features)
    r = RATIO.validate(ratio)
    m = math.floor(r * n + 0.5)
    if m < 1:
        raise ParameterError(f"ratio (r) = {r!r} gives m = 0 hidden units at n = {n}; valid: r >= {0.5 / n:g}")
    return m


def _as_tuple(value: Any) -> tuple:
    if isinstance(value, (str, bytes)):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        return (value,)


def _check(parameter: Parameter, value: Any, name: str | None = None) -> Any:
    """``parameter.validate(value)``, the message naming ``name`` (and the symbol only when it differs)."""
    try:
        return parameter.validate(value)
    except ParameterError as error:
        name = name or parameter.name
        label = name if parameter.symbol == parameter.name else f"{name} ({parameter.symbol})"
        message = str(error).replace(f"{parameter.name} ({parameter.symbol})", label, 1)
        raise ParameterError(message.replace(f"valid: {parameter.symbol} ", f"valid: {label.split()[0]} ", 1)) from None


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"{name} = {value!r} is not a flag; valid: True or False")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(f"{name} = {value!r} is unknown; valid: {', '.join(choices)}")
    return value


def _seed(value: Any, name: str = "seed") -> int:
    try:
        seed = check_seed(value)
    except ParameterError:
        raise ParameterError(f"{name} = {value!r} is out of range; valid: {name} an integer in [0, 2^63)") from None
    if seed > _MAX_SEED:
        raise ParameterError(f"{name} = {value!r} is out of range; valid: {name} an integer in [0, 2^63)")
    return seed


@dataclass(frozen=True)
class TrainConfig:
    """K toy models y = ReLU(W_out W_in x + b) with W_in m x n, trained together (THEORY.md).

    ``feature_probability`` and ``seed`` are per instance; a scalar, or a sequence of length 1,
    is broadcast to the other's length. ``seed[k]`` seeds instance k's initial weights only.
    The data of all instances comes from one generator on the device seeded with ``data_seed``
    (default ``seed[0]``), drawn as a (K, batch_size, n) block per step, so an instance's data
    depends on its position k and on K as well.

    Step: ``kernel="dense"`` draws x as a dense (K, B, n) block and uses torch's dense products and
    autograd; ``"sparse"`` draws only the non-zeros (``rugtheory.harness.sparse``, the same
    distribution from a different stream of uniforms) and uses the sparse forward/backward there,
    which is faster at small p. Both compute the same loss and gradients (to rounding).

    Optimiser: Adam (``adam_beta1``, ``adam_beta2``, ``adam_eps``) with two rates: ``lr`` for W_in
    and W_out (``None``: ``default_lr(n)`` = 3e-2/sqrt(n)) and ``bias_lr`` for b (``None``:
    ``DEFAULT_BIAS_LR`` = 1e-4, whatever n). Adam moves every parameter by about its rate per
    step whatever the gradient's size, so at one shared rate the biases run negative within a few
    hundred steps and switch off ReLU outputs before their features are learned (dropped features
    that rarely come back); the separate, small bias rate avoids that. The weights' entries scale
    as 1/sqrt(n), the bias does not, hence an absolute bias rate. Both follow one warm-up,
    stable, decay schedule (``learning_rate``; b's rate is that times bias_lr/lr): a linear
    warm-up from lr/W to lr over the first W = ceil(warmup_fraction * steps) steps, then lr,
    then a cosine decay to ``final_lr_fraction * lr`` over the last D = ceil(decay_fraction * steps)
    steps. ``decay_fraction=1`` is warm-up + cosine. ``schedule="constant"`` instead holds lr
    from the first step to the last (the fractions are then ignored); the default is "wsd".

    Convergence: every ``log_every`` steps the mean training loss of each instance over those
    steps is read (one host sync) and smoothed, s <- (1 - smoothing) s + smoothing * window (the
    first window sets s). An instance has stalled when s has not gone below (1 - rel_tol) times
    its best earlier value for ``patience`` steps. When every
    instance has stalled during the stable phase, the decay starts at once and the run ends D
    steps later, so an early stop still anneals. ``patience=0`` never stops early.

    Saving (``train(..., out=DIR)``): a checkpoint when the run starts, then every
    ``checkpoint_seconds`` of training (default 60) and, on request, every ``checkpoint_every``
    steps, one at the start of the decay (the stable-phase checkpoint that a longer run
    continues from) and one at the end. These two fields (``SAVING_FIELDS``) may change when a
    run is resumed; ``steps`` may grow (see ``train``).

    >>> TrainConfig(n_features=64, n_hidden=16, feature_probability=[0.01, 0.1], seed=0).seed
    (0, 0)
    """

    n_features: int
    n_hidden: int
    feature_probability: tuple[float, ...]
    seed: tuple[int, ...]
    data_seed: int | None = None
    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float | None = None
    bias_lr: float | None = None
    schedule: str = "wsd"
    warmup_fraction: float = 0.0
    decay_fraction: float = 0.2
    final_lr_fraction: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    tied: bool = False
    tf32: bool = False
    dtype: str = "float32"
    kernel: str = "dense"
    checkpoint_every: int = 0
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    log_every: int = 50
    patience: int = 2_500
    rel_tol: float = 1e-3
    smoothing: float = 0.1

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)
        n = N_FEATURES.validate(self.n_features)
        put("n_features", n)
        hidden = Parameter("n_hidden", "m", "hidden units", 1, n, integer=True)
        put("n_hidden", hidden.validate(self.n_hidden))
        p = tuple(float(FEATURE_PROBABILITY.validate(value)) for value in _as_tuple(self.feature_probability))
        seeds = tuple(_seed(value) for value in _as_tuple(self.seed))
        if not p or not seeds:
            raise ParameterError("feature_probability and seed need at least one instance; valid: K >= 1")
        if len(p) != len(seeds):
            if len(p) == 1:
                p = p * len(seeds)
            elif len(seeds) == 1:
                seeds = seeds * len(p)
            else:
                raise ParameterError(
                    f"feature_probability has {len(p)} instances but seed has {len(seeds)}; valid: equal lengths"
                )
        put("feature_probability", p)
        put("seed", seeds)
        put("data_seed", seeds[0] if self.data_seed is None else _seed(self.data_seed, "data_seed"))
        for parameter in (STEPS, BATCH_SIZE, CHECKPOINT_EVERY, LOG_EVERY, PATIENCE):
            put(parameter.name, _check(parameter, getattr(self, parameter.name)))
        put("lr", default_lr(n) if self.lr is None else float(_check(LR, self.lr)))
        put("bias_lr", DEFAULT_BIAS_LR if self.bias_lr is None else float(_check(BIAS_LR, self.bias_lr)))
        put("dtype", _choice("dtype", self.dtype, DTYPES))
        put("schedule", _choice("schedule", self.schedule, SCHEDULES))
        put("kernel", _choice("kernel", self.kernel, KERNELS))
        for parameter, name in (
            (WARMUP_FRACTION, "warmup_fraction"), (DECAY_FRACTION, "decay_fraction"),
            (FINAL_LR_FRACTION, "final_lr_fraction"),
            (ADAM_BETA, "adam_beta1"), (ADAM_BETA, "adam_beta2"), (ADAM_EPS, "adam_eps"), (REL_TOL, "rel_tol"),
            (SMOOTHING, "smoothing"), (CHECKPOINT_SECONDS, "checkpoint_seconds"),
        ):
            put(name, float(_check(parameter, getattr(self, name), name)))
        if self.warmup_fraction + self.decay_fraction > 1.0:
            raise ParameterError(
                f"warmup_fraction + decay_fraction = {self.warmup_fraction + self.decay_fraction:g} is out of range; "
                "valid: a sum <= 1"
            )
        put("tied", _flag("tied", self.tied))
        put("tf32", _flag("tf32", self.tf32))

    @property
    def instances(self) -> int:
        """K, the number of instances."""
        return len(self.seed)

    @property
    def ratio(self) -> float:
        """r = m / n."""
        return self.n_hidden / self.n_features

    @property
    def warmup_steps(self) -> int:
        """W, the steps of the linear warm-up (0 for the constant schedule)."""
        return 0 if self.schedule == "constant" else math.ceil(self.warmup_fraction * self.steps)

    @property
    def decay_steps(self) -> int:
        """D, the steps of the final cosine decay (0 for the constant schedule)."""
        if self.schedule == "constant":
            return 0
        return min(math.ceil(self.decay_fraction * self.steps), self.steps - self.warmup_steps)

    def learning_rate(self, step: int, decay_start: int | None = None) -> float:
        """The weights' learning rate at update ``step`` (0-based; ``decay_start`` defaults to steps - D).

        >>> config = TrainConfig(n_features=4, n_hidden=2, feature_probability=0.5, seed=0, steps=10, lr=1.0)
        >>> [round(config.learning_rate(step), 3) for step in range(10)]
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
        """
        warmup, decay = self.warmup_steps, self.decay_steps
        start = self.steps - decay if decay_start is None else decay_start
        if step < warmup:
            return self.lr * (step + 1) / warmup
        if step < start or decay == 0:
            return self.lr
        progress = min(1.0, (step - start + 1) / decay)
        final = self.final_lr_fraction * self.lr
        return final + (self.lr - final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``TrainConfig.from_dict`` inverts it."""
        record = asdict(self)
        record["feature_probability"] = list(self.feature_probability)
        record["seed"] = list(self.seed)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TrainConfig:
        """The config written by ``to_dict``; unknown keys are a ParameterError."""
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            raise ParameterError(f"TrainConfig has no field {unknown[0]!r}; valid: {', '.join(sorted(names))}")
        return cls(**record)


@dataclass(frozen=True)
class InstanceGroup:
    """Instances that share m, so they can be trained in one TrainConfig."""

    n_hidden: int
    indices: tuple[int, ...]
    feature_probability: tuple[float, ...]
    seed: tuple[int, ...]

    def config(self, n_features: int, **options: Any) -> TrainConfig:
        """The TrainConfig of this group (``options`` are the other TrainConfig fields)."""
        return TrainConfig(
            n_features=n_features, n_hidden=self.n_hidden, feature_probability=self.feature_probability,
            seed=self.seed, **options,
        )

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def group_by_hidden(n_features: int, instances: Sequence[tuple[float, float, int]]) -> tuple[InstanceGroup, ...]:
    """Split (p, r, seed) triples into groups of equal m = round(r n), in order of first appearance.

    ``indices`` says where each group's instances were in ``instances``.

    >>> [(g.n_hidden, g.indices) for g in group_by_hidden(64, [(0.1, 0.25, 0), (0.1, 0.5, 0), (0.01, 0.25, 1)])]
    [(16, (0, 2)), (32, (1,))]
    """
    groups: dict[int, list[tuple[int, float, int]]] = {}
    for index, (p, r, seed) in enumerate(instances):
        m = hidden_size(n_features, r)
        groups.setdefault(m, []).append((index, float(FEATURE_PROBABILITY.validate(p)), _seed(seed)))
    return tuple(
        InstanceGroup(m, tuple(i for i, _, _ in rows), tuple(p for _, p, _ in rows), tuple(s for _, _, s in rows))
        for m, rows in groups.items()
    )
