"""The decision (docs/numerics.md, "Decision", "Ties", "No-spike fallback") and the two
accuracy metrics (docs/numerics.md, "Strict and paper accuracy")."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, T


@dataclass
class Decision:
    label: np.ndarray          # (B,) int  class the hardware outputs
    step: np.ndarray           # (B,) int  decision step: first output crossing, or 255
    tie: np.ndarray            # (B,) bool more than one output neuron crossed first
    no_spike: np.ndarray       # (B,) bool no output neuron fired: argmax V(255)
    winners: np.ndarray        # (B, N_out) bool first spikers (all False when no spike)


def decide(out_spikes: np.ndarray, v_cross: np.ndarray, v_final: np.ndarray) -> Decision:
    """Earliest output spike wins; ties by highest potential then lowest index; else argmax V(255)."""
    first = out_spikes.min(axis=1)                                  # (B,)
    no_spike = first >= SILENT
    winners = (out_spikes == first[:, None]) & ~no_spike[:, None]
    tie = winners.sum(axis=1) > 1
    # argmax returns the lowest index among equal maxima.
    key = np.where(winners, v_cross.astype(np.int32), np.iinfo(np.int32).min)
    label = np.where(no_spike, v_final.argmax(axis=1), key.argmax(axis=1))
    step = np.where(no_spike, T - 1, first - 1)
    return Decision(label, step, tie, no_spike, winners)


def accuracy(decision: Decision, labels: np.ndarray) -> tuple[float, float]:
    """(strict, paper): strict is the decision above; paper counts a tie containing the label."""
    labels = np.asarray(labels)
    strict = decision.label == labels
    among = decision.winners[np.arange(len(labels)), labels]
    paper = np.where(decision.no_spike, strict, among)
    return float(strict.mean()), float(paper.mean())
