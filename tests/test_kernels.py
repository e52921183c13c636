"""The compiled kernels (model.kernels) against the NumPy code they replace in the trainer:
the same spike times, potentials, peaks and steps, the same gradients up to float
summation order, the same optimizer step bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from contract.numerics import SILENT, encode_latency
from model.checkpoint import binarize
from model.kernels.grad import grad_before, signed_mean
from model.kernels.scan import forward_rows, peak_rows
from model.kernels.update import sign_rows
from model.layer import layer_from_rows, padded_rows, peak_before, slot_scan
from model.optim import LatentOptimizer
from model.rules.temporal_grad import grad_sparse_inputs


def _rows(rng, n_in, n_out, p_plus=0.55):
    w = np.where(rng.random((n_out, n_in)) < p_plus, 1, -1).astype(np.int16)
    return padded_rows(np.ascontiguousarray(w.T))


def _random_times(rng, shape):
    """Times 0..256 with many at 255 and 256 (zero pixels, silent neurons) and ties."""
    s = rng.integers(0, 257, shape).astype(np.int16)
    s[rng.random(shape) < 0.4] = 255
    s[rng.random(shape) < 0.2] = SILENT
    return s


def _assert_same_layer(s, rows, theta):
    want, got = layer_from_rows(s, rows, theta), forward_rows(s, rows, theta)
    for field in ("spikes", "v_cross", "v_final"):
        a, b = getattr(want, field), getattr(got, field)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(b, a, err_msg=f"{field}, theta {theta}")
    return got


def test_forward_equals_slot_scan_on_mnist(mnist):
    rng = np.random.default_rng(10)
    s = encode_latency(mnist.train.images[:300])
    rows = _rows(rng, 784, 600)
    fired = []
    for theta in (-3, 1, 20, 45, 400):
        got = _assert_same_layer(s, rows, theta)
        fired.append(float((got.spikes < SILENT).mean()))
    assert 0 < fired[2] < 1 and fired[0] > 0.99 and fired[-1] == 0


@pytest.mark.parametrize("n_in, n_out", [(50, 30), (600, 10), (7, 2000)])
def test_forward_equals_slot_scan_on_random_times(n_in, n_out):
    rng = np.random.default_rng(11)
    s = _random_times(rng, (40, n_in))
    s[0] = SILENT                                   # a sample without any input spike
    s[1] = 3                                        # all inputs in one step
    rows = _rows(rng, n_in, n_out, 0.6)
    for theta in (1, 4, 9):
        _assert_same_layer(s, rows, theta)


def test_peaks_equal_peak_before(mnist):
    rng = np.random.default_rng(12)
    rows = _rows(rng, 784, 600, 0.5)
    for s in (encode_latency(mnist.train.images[:200]), _random_times(rng, (200, 784))):
        limit = rng.integers(-3, 260, len(s))
        limit[:3] = (-1, 0, 254)
        want, got = peak_before(slot_scan(s, rows), limit), peak_rows(s, rows, limit)
        for name, a, b in zip(("peak", "step", "valid"), want, got):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(b, a, err_msg=name)
        assert got[2].any() and not got[2].all()


@pytest.mark.parametrize("dense_e", [True, False])
def test_gradient_equals_reference(mnist, dense_e):
    rng = np.random.default_rng(13)
    cases = [(_random_times(rng, (32, 50)), _random_times(rng, (32, 30))),
             (encode_latency(mnist.train.images[:32]), _random_times(rng, (32, 600)))]
    for s_in, s_out in cases:
        e = rng.standard_normal(s_out.shape).astype(np.float32)
        if not dense_e:
            e[rng.random(e.shape) < 0.8] = 0
        want = grad_sparse_inputs(s_in, s_out, e)
        got = grad_before(s_in, s_out, e)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        early = s_in.min(axis=0) < 255             # inputs never at 255: the same sums
        np.testing.assert_array_equal(got[:, early & (s_in < 255).all(axis=0)],
                                      want[:, early & (s_in < 255).all(axis=0)])


def test_signed_mean_and_sign_rows():
    rng = np.random.default_rng(14)
    W = rng.standard_normal((60, 70)).astype(np.float32)
    W[0, :5] = 0.0                                  # sign(0) = +1
    dW = rng.standard_normal(W.shape).astype(np.float32)
    want = float((np.where(W >= 0, 1.0, -1.0) * dW).sum()) / dW.size
    assert signed_mean(W, dW) == pytest.approx(want, rel=1e-5, abs=1e-9)
    rows = sign_rows(W)
    np.testing.assert_array_equal(rows, padded_rows(binarize(W).T.astype(np.int16)))
    assert rows.dtype == np.int16


def _numpy_step(W, dW, m, v, steps, lr, clip, kind, b1=0.9, b2=0.999, eps=1e-8):
    """The optimizer's former in-place NumPy update, the reference."""
    if kind == "adam":
        tmp = (1 - b1) * dW
        m *= b1
        m += tmp
        np.multiply((1 - b2) * dW, dW, out=tmp)
        v *= b2
        v += tmp
        den = np.divide(v, 1 - b2 ** steps)
        np.sqrt(den, out=den)
        den += eps
        np.divide(m, 1 - b1 ** steps, out=tmp)
        tmp *= np.float32(lr)
        tmp /= den
        W -= tmp
    else:
        W -= np.float32(lr) * dW
    if clip:
        np.clip(W, -clip, clip, out=W)


@pytest.mark.parametrize("kind, clip", [("adam", 1.0), ("adam", 0.0), ("sgd", 0.0),
                                        ("sgd", 0.5)])
def test_optimizer_step_is_the_numpy_step_bit_for_bit(kind, clip):
    rng = np.random.default_rng(15)
    shapes = [(40, 30), (3, 2, 5, 5)]
    W = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    ref, start = [w.copy() for w in W], [w.copy() for w in W]
    moments = [(np.zeros(s, np.float32), np.zeros(s, np.float32)) for s in shapes]
    opt = LatentOptimizer(shapes, kind, clip)
    for step in range(1, 4):
        dWs = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in shapes]
        opt.step(W, np.ones(2), dWs, [0.0, 0.0], 5e-3 if kind == "adam" else 0.7, 0.0)
        for w, g, (m, v) in zip(ref, dWs, moments):
            _numpy_step(w, g, m, v, step, 5e-3 if kind == "adam" else 0.7, clip, kind)
        for a, b in zip(W, ref):
            np.testing.assert_array_equal(a, b)
    assert all((a != b).mean() > 0.5 for a, b in zip(W, start))


def test_wrappers_check_their_inputs():
    rng = np.random.default_rng(16)
    rows = _rows(rng, 20, 5)
    s = _random_times(rng, (4, 20))
    bad = s.copy()
    bad[1, 2] = -1
    with pytest.raises(ValueError, match="0..256"):
        forward_rows(bad, rows, 3)
    with pytest.raises(ValueError, match="0..256"):
        grad_before(s + 300, s[:, :5], np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match="21 rows"):
        peak_rows(s, rows[:-2], np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="do not match"):
        grad_before(s, s[:, :5], np.ones((4, 6), np.float32))
    # A real-valued threshold: integer V >= 2.5 is V >= 3; float rows: the NumPy scan.
    np.testing.assert_array_equal(forward_rows(s, rows, 2.5).spikes,
                                  layer_from_rows(s, rows, 3).spikes)
    f32 = rows.astype(np.float32)
    np.testing.assert_array_equal(forward_rows(s, f32, 2.5).spikes,
                                  layer_from_rows(s, f32, 2.5).spikes)


def test_kernels_release_the_gil():
    """The trainer's worker threads run the kernels in parallel only if they drop the GIL."""
    from model.kernels import bayes, grad, scan, update
    kernels = [scan.forward_kernel, scan.peak_kernel, grad.grad_kernel, grad.signed_sum_kernel,
               update.adam_kernel, update.sgd_kernel, update.sign_rows_kernel,
               bayes.perturb_kernel, bayes.accumulate_kernel, bayes.update_kernel]
    for k in kernels:
        assert k.targetoptions.get("nogil") is True, k.__name__
