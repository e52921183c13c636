"""The training configuration: every option once, with the help text its command-line flag
shows (``python -m model.train`` builds its parser from these fields).

A field's ``metadata`` holds ``help`` (and optionally ``choices`` and ``group``, the help
section of the flag); a field without ``help`` is not a command-line option.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

from contract.errors import UsageError
from contract.numerics import LAST_STEP
from contract.network import validate_network

from .arch import Layer, dense_arch, parse_arch, to_dicts, weight_layers, widths_of
from .checkpoint import theta_from_fact
from .data import DATASETS
from .rules import RULES

GENERAL = None
DECISION = "decision rule"
BS4NN = 'bs4nn rule (docs/numerics.md, "Training rules")'
BAYES = 'bayes rule (docs/numerics.md, "Training rules"; also uses the decision rule options)'
INPUTS, CLASSES = 784, 10       # both datasets: 28 x 28 pixels, 10 classes


def option(default, help: str, *, choices=None, group=GENERAL):
    """A config field with its command-line help; list defaults are copied per instance."""
    meta = {"help": help, "choices": choices, "group": group}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


FIRST_THETA = (20, 784)         # (theta, fan-in) of the first layer that trains well
FIRST_EVENTS = 150              # ... with this many input spikes per image (MNIST: 149.9)
LATER_THETA = (40, 600)         # the same for the layers after it (784-600-10: [20, 40])
ADAM_LR = (5e-3, 600)           # (Adam step, narrowest hidden layer) that trains well
DEFAULT_EPOCHS = 30             # without a time budget
BAYES_STEP = 300                # the bayes rule's lr x N (N training images): 5e-2 on 6,000
                                # images (784-100-10, 2 epochs: 5e-2 > 2e-2 > 5e-3 > 1e-3),
                                # 0.1 on 2,000 (conv4k5,pool2,fc10: 0.1 > 0.3 > 1e-2)
TRAIN_IMAGES = 60000            # both datasets' training sets (before the validation split)
CONV_ADAM_LR = 3e-2             # conv kernels: one short run, 0.19 -> 0.54 against 5e-3


CONV_FIRST = 0.12              # first conv layer: theta = 12% of its window (3 for 5 x 5)
AFTER_CONV = (15, 576)          # (theta, fan-in) of a dense layer on a pooled conv map


def fan_in_thetas(widths, arch: list[Layer] | None = None,
                  input_events: float | None = None) -> list[int]:
    """Default decision-rule thresholds from each layer's fan-in (and the input's activity).

    The first layer sees the image (about 150 of 784 inputs spike on MNIST): theta in
    proportion to the fan-in, and, given ``input_events`` (the mean number of input spikes
    per training image), to the square root of input_events / 150 (Fashion-MNIST, 390 input
    spikes: theta 32; 8-epoch runs of 784-600-10: [32, 40] 0.8780 validation strict, [20, 40]
    0.8732). A later layer sees a hidden layer of which about a fifth fires
    by the decision step; its useful potentials grow more slowly than the fan-in (with
    theta 40 * 64 / 600 = 4 a 64-wide hidden layer gives mostly tied outputs, with 40 none
    fires): theta ~ fan-in^(2/3), from the 784-600-10 values and runs of 784-64-10.
    With ``arch``, the fan-ins are the weight layers' (conv: C_in * K * K); a first conv
    layer gets 12% of its window, a later layer theta ~ fan-in^(2/3) from 15 per 576 (one
    short run of conv4k5,pool2,fc10 on 5,000 images: [3, 15] beat [5, 10] and [5, 39];
    conv networks still want their --theta tuned).
    """
    fans = [x.fan_in for x in weight_layers(arch)] if arch else list(widths[:-1])
    out = []
    for l, fan_in in enumerate(fans):
        if l == 0 and arch and arch[0].kind == "conv":
            out.append(max(1, int(round(CONV_FIRST * fan_in))))
            continue
        theta, ref = FIRST_THETA if l == 0 else LATER_THETA
        if l and arch and arch[0].kind != "dense":
            theta, ref = AFTER_CONV
        power = 1.0 if l == 0 else 2 / 3
        if l == 0 and input_events:
            theta *= math.sqrt(input_events / FIRST_EVENTS)
        out.append(max(1, int(round(theta * (fan_in / ref) ** power))))
    return out


def default_adam_lr(hidden) -> float:
    """Adam's default step: 5e-3, times sqrt(600 / width) for a hidden layer narrower than
    600 (fewer hidden neurons: each sign must settle in fewer steps)."""
    lr, ref = ADAM_LR
    return lr * max(1.0, math.sqrt(ref / min(hidden)))


@dataclass
class TrainConfig:
    dataset: str = option("mnist", "dataset (default %(default)s)", choices=DATASETS)
    hidden: list[int] = option([600], "hidden layer widths of a dense network "
                               "(default %(default)s)")
    arch: str = option("", "the layers as a comma-separated SPEC of conv<C>k<K>[s<S>][p<P>], "
                       "pool<K> and fc<N> on the (1, 28, 28) map, e.g. "
                       "conv16k5,pool2,conv32k5,pool2,fc10 (the last is fc10); replaces "
                       "--hidden")
    rule: str = option("decision", "learning rule: decision = cross-entropy on the output "
                       "potentials at the decision step, bs4nn = the paper's rule, bayes = a "
                       "distribution over the binary weights (BayesBiNN) with the decision "
                       "rule's loss (default %(default)s)", choices=tuple(sorted(RULES)))
    epochs: int = option(0, "training epochs (default: 30; with --max-minutes, as many as "
                         "the budget allows, the step sizes decaying over the budget)")
    batch_size: int = option(32, "mini-batch size (default %(default)s)")
    optimizer: str = option("", "default: adam (decision rule), sgd (bs4nn rule); the bayes "
                            "rule has its own update",
                            choices=("sgd", "adam"))
    lr: float = option(0.0, "step size (default: with adam 5e-3, times sqrt(600 / width) for "
                       "a hidden layer narrower than 600, 3e-2 with conv layers; 0.1 with sgd; "
                       f"{BAYES_STEP} / N on lambda with the bayes rule, N training images)")
    lr_min_frac: float = option(0.05, "cosine decay of the step sizes down to this fraction "
                                "(default %(default)s)")
    shift: int = option(0, "random translations of up to N pixels (default %(default)s)")
    threads: int = option(1, "worker threads per batch (0: one per CPU, at most 4; default "
                          "%(default)s: the compiled kernels keep one core busy, and on 2 cores "
                          "a second thread was slower in every measurement, "
                          "benchmarks/results/train_speed.txt)")
    seed: int = option(0, "random seed of initialisation, order and shifts "
                       "(default %(default)s)")
    val_size: int = option(5000, "training images held out for validation "
                           "(default %(default)s)")
    max_minutes: float = option(0.0, "training time budget in minutes (0 = none)")
    train_subset: int = option(0, "use only the first N training images (0 = all)")
    theta: list[int] = option([], "integer threshold per layer (one value: all layers; "
                              "default: from each layer's fan-in, 20 per 784 inputs for the "
                              "first layer and 40 per 600 for the others, at least 1: "
                              "[20, 40] for 784-600-10)", group=DECISION)
    tau: float = option(4.0, "softmax temperature, potential units (default %(default)s)",
                        group=DECISION)
    surrogate: float = option(4.0, "surrogate derivative half-width, potential units "
                              "(default %(default)s)", group=DECISION)
    clip: float = option(1.0, "latent weights in [-clip, clip] (default %(default)s)",
                         group=DECISION)
    early: float = option(0.0, "weight of the early-decision term: a hinge that lifts the "
                          "label's output potential to theta by step min(t*, --early-step), "
                          "so images are decided early and seldom by the no-spike fallback "
                          "(the core stops at the decision); in units of the cross-entropy "
                          "(0 = off, default %(default)s)", group=DECISION)
    early_step: int = option(20, "the early term's target step R: the label's neuron should "
                             "cross by then (0..254, default %(default)s)", group=DECISION)
    early_rivals: bool = option(False, "with --early: also push the other output neurons "
                                "that crossed at the decision step back below theta (fewer "
                                "tied or wrong early decisions)", group=DECISION)
    early_relative: bool = option(False, "with --early-rivals: push the other output neurons "
                                  "one unit below the label's potential at the decision step "
                                  "instead of below theta (the strict decision's condition)",
                                  group=DECISION)
    early_warmup: float = option(0.0, "with --early: the weight rises linearly from 0 over "
                                 "this fraction of the training (0..1; 0 = from the start, "
                                 "default %(default)s)", group=DECISION)
    lr_f: float = option(0.01, "per-sample step on the threshold scale fact "
                         "(default %(default)s)", group=BS4NN)
    gamma: int = option(1, "target margin, time steps (default %(default)s)", group=BS4NN)
    no_spike: str = option("none", "when no output fires: none = learn nothing (the "
                           "authors' code), s4nn = pull the label's neuron to T - gamma "
                           "(default %(default)s)", choices=("none", "s4nn"), group=BS4NN)
    init_hidden: list[float] = option([5.0], "W ~ U[0, x) per hidden layer (last value "
                                      "repeats; default %(default)s)", group=BS4NN)
    init_out: float = option(48.0, "W ~ U[0, x) for the output layer (default %(default)s)",
                             group=BS4NN)
    fact0: float = option(5.0, "initial threshold scale fact (default %(default)s)",
                          group=BS4NN)
    real: bool = option(False, "S4NN-style real-valued variant: the forward uses the latent "
                        "weights themselves (float32 potentials, fire when V > thr / fact) "
                        "instead of their signs; decision and bs4nn rules. With the decision "
                        "rule the thresholds are --theta's (V > theta - 1/2, which is V >= "
                        "theta for weights of +-1) and the weights stay in [-clip, clip]: the "
                        "binary network of the same size is the real one with every |w| = 1 "
                        "(docs/numerics.md, \"Training rules\")")
    prior: float = option(0.0, "natural parameter lambda_0 of every weight's prior, P(+1) = "
                          "sigmoid(2 lambda_0) (default %(default)s: +1 and -1 equally likely)",
                          group=BAYES)
    gumbel_temperature: float = option(1.0, "temperature of the concrete (Gumbel-softmax) "
                                       "relaxation in the gradient (default %(default)s)",
                                       group=BAYES)
    momentum: float = option(0.9, "running average of the update, in [0, 1) (0: none; default "
                             "%(default)s)", group=BAYES)
    mc_samples: int = option(1, "sampled networks per training step (default %(default)s)",
                             group=BAYES)
    thr: float = 100.0           # the paper's fixed threshold; theta = floor(thr / fact) + 1

    def check_numbers(self) -> None:
        """Refuse out-of-range numbers (UsageError naming the option) before any work."""
        def need(ok: bool, name: str, value, what: str) -> None:
            if not ok:
                raise UsageError(f"--{name.replace('_', '-')} {value}: expected {what}")
        for name in ("lr", "lr_min_frac", "max_minutes", "tau", "surrogate", "clip", "lr_f",
                     "init_out", "fact0", "prior", "gumbel_temperature", "momentum", "early"):
            need(math.isfinite(getattr(self, name)), name, getattr(self, name), "a finite number")
        need(all(math.isfinite(x) for x in self.init_hidden), "init_hidden", self.init_hidden,
             "finite numbers")
        need(self.epochs >= 0, "epochs", self.epochs, "an integer >= 0 (0: the default)")
        need(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        need(len(self.hidden) >= 1 and min(self.hidden) >= 1, "hidden", self.hidden,
             "one or more widths >= 1")
        need(self.threads >= 0, "threads", self.threads, "an integer >= 0 (0: one per CPU)")
        need(self.val_size >= 1, "val_size", self.val_size, "an integer >= 1 (the kept epoch "
             "is chosen on the validation images)")
        need(self.train_subset >= 0, "train_subset", self.train_subset, "an integer >= 0")
        need(0 <= self.shift < 28, "shift", self.shift, "an integer in 0..27")
        need(self.lr >= 0, "lr", self.lr, "a number > 0 (0: the optimizer's default)")
        need(0 <= self.lr_min_frac <= 1, "lr_min_frac", self.lr_min_frac, "a number in 0..1")
        need(self.max_minutes >= 0, "max_minutes", self.max_minutes, "a number >= 0 (0: none)")
        for name in ("tau", "surrogate", "clip", "fact0", "init_out"):
            need(getattr(self, name) > 0, name, getattr(self, name), "a number > 0")
        need(min(self.init_hidden) > 0 if self.init_hidden else False, "init_hidden",
             self.init_hidden, "numbers > 0")
        need(self.lr_f >= 0, "lr_f", self.lr_f, "a number >= 0")
        need(self.gamma >= 0, "gamma", self.gamma, "an integer >= 0")
        need(self.early >= 0, "early", self.early, "a number >= 0 (0: off)")
        need(0 <= self.early_warmup <= 1, "early_warmup", self.early_warmup, "a number in 0..1")
        need(0 <= self.early_step < LAST_STEP, "early_step", self.early_step,
             f"an integer in 0..{LAST_STEP - 1}")
        need(self.gumbel_temperature > 0, "gumbel_temperature", self.gumbel_temperature,
             "a number > 0")
        need(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        need(self.mc_samples >= 1, "mc_samples", self.mc_samples, "an integer >= 1")

    def train_images(self) -> int:
        """N: the training images after the validation split and --train-subset."""
        n = TRAIN_IMAGES - self.val_size
        return min(n, self.train_subset) if self.train_subset else n

    def layers(self) -> list[Layer]:
        """The architecture: --arch, else 784, --hidden, 10 dense (NetworkError if bad)."""
        if not self.arch:
            return dense_arch([INPUTS, *self.hidden, CLASSES])
        arch = parse_arch(self.arch)
        if arch[-1].n_out != CLASSES:
            raise UsageError(f"--arch {self.arch}: the last layer has {arch[-1].n_out} "
                             f"neurons; the datasets have {CLASSES} classes (end with "
                             f"fc{CLASSES})")
        return arch

    def resolved(self) -> "TrainConfig":
        """Fill in the rule-dependent defaults; raises ValueError on bad values."""
        if self.rule not in RULES:
            raise ValueError(f"rule {self.rule!r}: expected one of {sorted(RULES)}")
        self.check_numbers()
        if self.real and self.rule == "bayes":
            raise ValueError("--real trains with the decision or bs4nn rule (the bayes rule "
                             "samples binary weights)")
        if self.early and self.rule != "decision":
            raise ValueError("--early trains with the decision rule only")
        if self.early_relative and not self.early_rivals:
            raise ValueError("--early-relative needs --early-rivals")
        opt = self.optimizer or ("adam" if self.rule == "decision" else "sgd")
        if opt not in ("sgd", "adam"):
            raise ValueError(f"optimizer {opt!r}: expected sgd or adam")
        arch = self.layers()
        widths, dicts = widths_of(arch), (to_dicts(arch) if self.arch else None)
        hidden = [x.n_out for x in weight_layers(arch)[:-1]] or [CLASSES]
        adam = CONV_ADAM_LR if any(x.kind == "conv" for x in arch) else default_adam_lr(hidden)
        lr = self.lr or (BAYES_STEP / self.train_images() if self.rule == "bayes"
                         else adam if opt == "adam" else 0.1)
        theta = list(self.theta)
        layers = len(weight_layers(arch))
        if self.rule in ("decision", "bayes"):
            if not theta:
                theta = fan_in_thetas(widths, arch)
            if len(theta) == 1:
                theta = theta * layers
            if len(theta) != layers or min(theta) < 1:
                raise ValueError(f"--theta {self.theta}: expected {layers} integers >= 1 "
                                 "(one value: all weight layers)")
            validate_network(widths, theta, where="--theta", layers=dicts)
        elif not self.real:
            start = theta_from_fact(self.thr, self.fact0)
            validate_network(widths, [start] * layers, layers=dicts,
                             where=f"--fact0 {self.fact0} (initial theta {start})")
        threads = self.threads or min(4, os.cpu_count() or 1)
        # 0 epochs after resolving: as many as the time budget allows (model.loop)
        epochs = self.epochs or (0 if self.max_minutes > 0 else DEFAULT_EPOCHS)
        return TrainConfig(**{**asdict(self), "optimizer": opt, "lr": lr, "theta": theta,
                              "threads": threads, "epochs": epochs})

