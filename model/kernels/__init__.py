"""Compiled (numba, GIL-free) kernels of the trainer's hot paths, one sample at a time.

Each kernel computes exactly what its NumPy counterpart computes (integers bit for bit,
float sums up to their order) and releases the GIL, so the trainer's worker threads run
them in parallel:

* ``scan``: a weight layer's forward (spike times, V at the crossing, V(255)) and the peak
  potential before a per-sample step (model.layer's slot scan, crossings, peak_before);
* ``conv``: a conv layer's forward and peaks, event-driven on its kernels (model.conv's
  connection matrix never built); ``conv_grad``: its kernel gradients and error spreading;
* ``grad``: sum_b e[b, j] [s_in[b, i] < s_out[b, j]] (model.rules.temporal_grad) and the
  sign-weighted mean of a gradient (the bs4nn rule's threshold step);
* ``update``: the optimizer's step on a block of latent weight rows (model.optim) and the
  signs of the latent weights as the forward's connection rows (model.trainable);
* ``real_scan``, ``real_conv``: the real-valued (``--real``) dense and conv forward and
  peaks, float32 potentials, V > threshold.

numba is a hard dependency: without it these modules fail to import.
"""

# GIL-free, cached on disk, and NumPy's float semantics (x / 0 is inf or nan, no check):
# the checks of Python's error model keep loops from being vectorised.
KERNEL = dict(nogil=True, cache=True, error_model="numpy")
