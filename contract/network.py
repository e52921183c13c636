"""One validation of a network's shape, for every stage: checkpoint loading, export, the
artifact reader and the hardware generator all call :func:`validate_network`.

What the hardware can represent (docs/numerics.md, "Neuron"): a layer of ``fan_in`` binary
(+-1) inputs has a potential V in [-fan_in, fan_in] and fires when V >= theta, so a threshold
must be an integer with 1 <= theta <= fan_in (theta < 1 would fire with no input at all, a
theta above fan_in can never fire); the decision needs at least 2 output neurons; only
fully connected (``dense``) binary layers exist.
"""
from __future__ import annotations

from .errors import UsageError

MODES = ("binary",)
LAYER_KINDS = ("dense",)


class NetworkError(UsageError):
    """A network the hardware cannot represent; the message names the field."""


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def validate_network(widths, thetas, mode: str = "binary", kinds=None, *,
                     where: str = "network", modes=MODES) -> tuple[list[int], list[int]]:
    """Check widths, thresholds, mode and layer kinds; return (widths, thetas) as int lists.

    ``where`` prefixes every message (a file name); ``modes`` lists the accepted modes
    (checkpoints also allow "real", whose thresholds are not integer-checked against fan-in).
    Raises NetworkError naming the field.
    """
    if mode not in modes:
        raise NetworkError(f"{where}: mode {mode!r} is not one of {', '.join(modes)}")
    if (not isinstance(widths, (list, tuple)) or len(widths) < 2
            or not all(_is_int(w) and w >= 1 for w in widths)):
        raise NetworkError(f"{where}: widths {widths!r} must be >= 2 positive integers")
    n = len(widths) - 1
    if widths[-1] < 2:
        raise NetworkError(f"{where}: widths {list(widths)}: the output layer needs at "
                           "least 2 neurons to decide between")
    if (not isinstance(thetas, (list, tuple)) or len(thetas) != n
            or not all(_is_int(t) for t in thetas)):
        raise NetworkError(f"{where}: theta {thetas!r} must be {n} integers (one per layer)")
    if kinds is not None:
        bad = [k for k in kinds if k not in LAYER_KINDS]
        if len(kinds) != n or bad:
            raise NetworkError(f"{where}: layer kinds {list(kinds)!r}: expected {n} of "
                               f"{', '.join(LAYER_KINDS)}")
    if mode == "binary":
        for l, (fan_in, theta) in enumerate(zip(widths, thetas)):
            if not 1 <= theta <= fan_in:
                raise NetworkError(f"{where}: theta[{l}] = {theta} must be in 1..{fan_in} "
                                   f"(fan-in of layer {l}; a larger theta can never fire)")
    return [int(w) for w in widths], [int(t) for t in thetas]
