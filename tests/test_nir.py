"""NIR export and import (docs/nir.md): checkpoint -> NIR -> checkpoint is exact for the
authors' network, a random 784-600-10 network and conv networks; the file opens with
``nir.read``; the golden event data equals the golden model's; a step-by-step reading of
the graph by NIR's own equations reproduces the golden spike times; real-valued weights are
binarized with a warning and graphs the project cannot represent are refused by name."""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import nir  # the nir extra (scripts/bootstrap.sh installs it): a missing one fails, not skips

import export.nir as exporter
import model.import_nir as importer
from contract.events import images_to_events
from contract.numerics import SILENT, T, encode_latency
from model.arch import parse_arch, spec_of, to_dicts
from model.checkpoint import Checkpoint, load_checkpoint
from model.import_authors import authors_checkpoint
from model.network import forward_times
from model.nir_graph import checkpoint_to_graph
from model.nir_parse import NirError, NirWarning


GOLDEN = 12
CONV_SPECS = {"conv4k5p2,pool2,fc10": (3, 6),
              "conv4k5p2,pool2,conv6k3s2p1,pool2,fc10": (3, 4, 4)}


def random_ckpt(path: Path, spec: str | None = None, widths=(784, 600, 10), thetas=(20, 4),
                seed: int = 3) -> Path:
    """A random binary checkpoint: dense ``widths``, or the layers of ``spec``; ``fact`` is
    set so that the paper's rule gives ``thetas`` (thr = 100)."""
    rng = np.random.default_rng(seed)
    meta = {"mode": "binary", "dataset": "mnist", "thr": [100.0] * len(thetas),
            "theta": list(thetas)}
    if spec:
        arch = parse_arch(spec)
        shapes = [x.weight_shape for x in arch if x.has_weights]
        meta.update(layers=to_dicts(arch), arch=spec_of(arch))
    else:
        shapes = list(zip(widths[1:], widths[:-1]))
    latent = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    Checkpoint(latent, 100 / (np.array(thetas) - 0.5), meta).save(path)
    return path


def round_trip(ck_path: Path, tmp: Path, data_dir, golden: int = GOLDEN) -> Path:
    net, back = tmp / f"{ck_path.stem}.nir", tmp / f"{ck_path.stem}_back.npz"
    assert exporter.main([str(ck_path), "--out", str(net), "--golden", str(golden),
                          "--data-dir", str(data_dir)]) == 0
    assert importer.main([str(net), "--out", str(back)]) == 0
    return back


def assert_same_network(a_path: Path, b_path: Path) -> None:
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    assert a.arch == b.arch and a.widths == b.widths and a.thetas == b.thetas
    for wa, wb in zip(a.binary_weights, b.binary_weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.fact, b.fact)
    assert {k: v for k, v in b.meta.items() if k != "nir_source"} == a.meta
    assert b.meta["nir_source"]["file"] == a_path.stem + ".nir"


@pytest.fixture(scope="module")
def authors(tmp_path_factory, reference_npz, data_dir) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("nir_authors")
    ck = tmp / "authors.npz"
    authors_checkpoint(reference_npz).save(ck)
    return ck, round_trip(ck, tmp, data_dir)


def test_authors_round_trip_exact(authors):
    assert_same_network(*authors)


def test_authors_file_opens_with_nir_read(authors):
    g = nir.read(authors[0].with_suffix(".nir"))
    kinds = {k: type(n).__name__ for k, n in g.nodes.items()}
    assert kinds == {"input": "Input", "linear_0": "Linear", "if_0": "IF", "linear_1": "Linear",
                     "if_1": "IF", "output": "Output"}
    assert g.edges == [("input", "linear_0"), ("linear_0", "if_0"), ("if_0", "linear_1"),
                       ("linear_1", "if_1"), ("if_1", "output")]
    assert set(np.unique(g.nodes["linear_0"].weight)) == {-1.0, 1.0}
    # theta 25 / 12 as NIR thresholds (fires on v > theta - 0.5), reset below reach
    np.testing.assert_array_equal(g.nodes["if_0"].v_threshold, np.full(600, 24.5))
    np.testing.assert_array_equal(g.nodes["if_1"].v_threshold, np.full(10, 11.5))
    assert (g.nodes["if_0"].v_reset == -2 * 784).all() and (g.nodes["if_1"].r == 1).all()


def times_of(events, n_neurons: int) -> np.ndarray:
    """EventData -> (N, n) spike times, SILENT where a neuron has no event."""
    assert events.n_neurons == n_neurons and events.t_max == T
    s = np.full((events.n_samples, n_neurons), SILENT, np.int64)
    for i in range(events.n_samples):
        ok = events.idx[i] >= 0
        assert np.isinf(events.time[i][~ok]).all()
        assert len(set(events.idx[i][ok])) == ok.sum()          # one spike per neuron
        s[i, events.idx[i][ok]] = events.time[i][ok]
    return s


def assert_golden(ck_path: Path, mnist) -> None:
    """The sidecar's events are the golden model's spike times, node by node."""
    ck = load_checkpoint(ck_path)
    data = nir.read_data(ck_path.with_name(ck_path.stem + ".golden.h5"))
    images = mnist.test.images[:GOLDEN]
    f = forward_times(encode_latency(images), ck.binary_weights, ck.thetas, ck.conv_arch)
    ifs = sorted((k for k in data.nodes if k.startswith("if_")), key=lambda k: int(k[3:]))
    assert len(ifs) == len(ck.arch)
    for l, (k, layer) in enumerate(zip(ifs, ck.arch)):
        got = times_of(data.nodes[k].observables["spikes"], layer.n_out)
        np.testing.assert_array_equal(got, f.spikes[l], err_msg=k)
    np.testing.assert_array_equal(times_of(data.nodes["output"].observables["spikes"], 10),
                                  f.spikes[-1])
    offsets, t, a = images_to_events(images)
    got = times_of(data.nodes["input"].observables["spikes"], 784)
    for i in range(GOLDEN):
        want = np.full(784, SILENT)
        want[a[offsets[i]:offsets[i + 1]]] = t[offsets[i]:offsets[i + 1]]
        np.testing.assert_array_equal(got[i], want)


def test_authors_golden_data(authors, mnist):
    assert_golden(authors[0], mnist)


def test_random_784_600_10_round_trip(tmp_path, data_dir, mnist):
    ck = random_ckpt(tmp_path / "rand.npz")
    assert_same_network(ck, round_trip(ck, tmp_path, data_dir))
    assert_golden(ck, mnist)


@pytest.mark.parametrize("spec", CONV_SPECS)
def test_conv_round_trip(spec, tmp_path, data_dir, mnist):
    ck = random_ckpt(tmp_path / "conv.npz", spec, thetas=CONV_SPECS[spec])
    assert_same_network(ck, round_trip(ck, tmp_path, data_dir))
    assert_golden(ck, mnist)
    kinds = [type(n).__name__ for n in nir.read(tmp_path / "conv.nir").nodes.values()]
    assert kinds.count("SumPool2d") == spec.count("pool") and "Flatten" in kinds


# ------------------------------------------------------------- NIR's equations, step by step

def conv2d(x: np.ndarray, node) -> np.ndarray:
    """(B, C, H, W) -> (B, C_out, H', W') cross-correlation with NIR Conv2d's geometry."""
    w = node.weight
    (s, _), (p, _), k = node.stride, node.padding, w.shape[-1]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (xp.shape[2] - k) // s + 1, (xp.shape[3] - k) // s + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, :, ky:ky + s * ho:s, kx:kx + s * wo:s]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, ky, kx])
    return out


def sumpool(x: np.ndarray, node) -> np.ndarray:
    k = int(node.kernel_size[0])
    b, c, h, w = x.shape
    x = x[:, :, :h // k * k, :w // k * k]
    return x.reshape(b, c, h // k, k, w // k, k).sum(axis=(3, 5))


def run_nir_steps(graph, s_in: np.ndarray) -> dict[str, np.ndarray]:
    """Every IF node's first-spike step when the graph's nodes are read by NIR's equations
    (IF: v += r * I, spike on v > v_threshold, then v = v_reset) on a grid of dt = 1, each
    node acting within the step (no delay), inputs spiking at their times."""
    order = [e[1] for e in graph.edges]
    v = {k: np.zeros((len(s_in), *n.r.shape)) for k, n in graph.nodes.items()
         if type(n).__name__ == "IF"}
    first = {k: np.full((len(s_in), math.prod(x.shape[1:])), SILENT) for k, x in v.items()}
    for t in range(T):
        x = (s_in == t).astype(np.float64).reshape(len(s_in), *graph.nodes["input"]
                                                  .input_type["input"])
        for k in order[:-1]:
            n = graph.nodes[k]
            kind = type(n).__name__
            if kind == "Linear":
                x = x @ n.weight.T
            elif kind == "Conv2d":
                x = conv2d(x, n)
            elif kind == "SumPool2d":
                x = sumpool(x, n)
            elif kind == "Flatten":
                x = x.reshape(len(x), -1)
            else:
                v[k] += n.r * x
                z = v[k] > n.v_threshold
                v[k] = np.where(z, n.v_reset, v[k])
                flat = z.reshape(len(x), -1)
                first[k] = np.where(flat & (first[k] == SILENT), t, first[k])
                x = z.astype(np.float64)
    return first


@pytest.mark.parametrize("spec, thetas", [(None, (12, 2)), *list(CONV_SPECS.items())[1:]])
def test_nir_equations_give_the_golden_times(spec, thetas, tmp_path, mnist):
    """A NIR consumer that runs every node without delay sees layer l's spikes (l counting
    weight layers from 1) l steps before the project's times, and nothing at or after
    step 256 - l (docs/nir.md, "Time")."""
    ck = load_checkpoint(random_ckpt(tmp_path / "n.npz", spec, (784, 64, 10), thetas))
    images = mnist.test.images[:6]
    s_in = encode_latency(images)
    f = forward_times(s_in, ck.binary_weights, ck.thetas, ck.conv_arch)
    first = run_nir_steps(checkpoint_to_graph(ck), s_in)
    weight_layers = 0
    for l, x in enumerate(ck.arch):
        weight_layers += x.has_weights
        c = first[f"if_{l}"]
        want = np.where(c + weight_layers <= T - 1, c + weight_layers, SILENT)
        np.testing.assert_array_equal(want, f.spikes[l], err_msg=f"layer {l}")
        assert (f.spikes[l] < SILENT).any()


# ------------------------------------------------------------------ graphs from elsewhere

def dense_graph(w0, w1, thr=(3.5, 1.5), reset=-2000.0, extra=None):
    """input(784) -> linear -> IF -> linear -> IF -> output, no project metadata."""
    def neuron(n, th):
        return nir.IF(r=np.ones(n), v_threshold=np.full(n, th), v_reset=np.full(n, reset))
    nodes = {"input": nir.Input(input_type={"input": np.array([784])}),
             "fc1": nir.Linear(weight=w0), "lif1": extra or neuron(len(w0), thr[0]),
             "fc2": nir.Linear(weight=w1), "if2": neuron(len(w1), thr[1]),
             "output": nir.Output(output_type={"output": np.array([len(w1)])})}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=False)


def test_real_weights_binarized_with_a_warning(tmp_path, capsys):
    rng = np.random.default_rng(1)
    w0, w1 = rng.standard_normal((16, 784)), rng.standard_normal((10, 16))
    w1[0, 0] = 0.0
    with pytest.warns(NirWarning) as record:
        ck = importer.graph_checkpoint(dense_graph(w0, w1))
    assert [str(w.message) for w in record] == [
        "node 'fc1': 12544 of 12544 weights are not +-1; binarized (w >= 0 -> +1)",
        "node 'fc2': 160 of 160 weights are not +-1; binarized (w >= 0 -> +1)"]
    np.testing.assert_array_equal(ck.binary_weights[0], np.where(w0 >= 0, 1, -1))
    assert ck.binary_weights[1][0, 0] == 1                     # w >= 0 -> +1
    assert ck.thetas == [4, 2] and ck.meta["thr"] == [3.5, 1.5] and list(ck.fact) == [1, 1]
    nir.write(tmp_path / "real.nir", dense_graph(w0, w1))
    assert importer.main([str(tmp_path / "real.nir"), "--out", str(tmp_path / "r.npz")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("warning: ") for e in err)
    assert load_checkpoint(tmp_path / "r.npz").thetas == [4, 2]


def test_reset_that_fires_again_warns():
    w0, w1 = np.ones((16, 784)), np.ones((10, 16))
    with pytest.warns(NirWarning) as record:
        importer.graph_checkpoint(dense_graph(w0, w1, reset=0.0))
    assert [str(w.message).split(";")[0] for w in record] == [
        f"node '{k}': v_reset lets a neuron fire again" for k in ("lif1", "if2")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importer.graph_checkpoint(dense_graph(w0, w1))


@pytest.mark.parametrize("node, message", [
    (lambda: nir.LIF(tau=np.ones(16), r=np.ones(16), v_leak=np.zeros(16),
                     v_threshold=np.ones(16)), "node 'lif1' is a NIR LIF: not supported"),
    (lambda: nir.IF(r=np.ones(16), v_threshold=np.arange(16) + 0.5, v_reset=-np.ones(16) * 99),
     "node 'lif1': thresholds give theta 1..16"),
    (lambda: nir.IF(r=np.ones(7), v_threshold=np.ones(7), v_reset=np.zeros(7)),
     "node 'lif1': r has shape [7], the layer has [16] neurons"),
    (lambda: nir.IF(r=np.ones(16), v_threshold=np.full(16, -1.0), v_reset=np.zeros(16)),
     "node 'lif1': theta 0"),
])
def test_unrepresentable_graphs_refused_by_name(node, message):
    with pytest.raises(NirError, match=re.escape(message)):
        importer.graph_checkpoint(dense_graph(np.ones((16, 784)), np.ones((10, 16)),
                                              extra=node()))


def pool_graph(pool, thr=0.5, padding=1):
    """input(1,28,28) -> conv -> IF -> pool -> IF -> flatten -> linear -> IF -> output."""
    w = np.ones((2, 1, 3, 3))
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 28, 28])}),
             "c": nir.Conv2d(input_shape=(28, 28), weight=w, stride=1, padding=padding, dilation=1,
                             groups=1, bias=np.zeros(2)),
             "n": nir.IF(r=np.ones((2, 28, 28)), v_threshold=np.full((2, 28, 28), 2.5),
                         v_reset=np.full((2, 28, 28), -99.0)),
             "p": pool, "pn": nir.IF(r=np.ones((2, 14, 14)), v_threshold=np.full((2, 14, 14), thr),
                                      v_reset=np.full((2, 14, 14), -99.0)),
             "f": nir.Flatten(input_type={"input": np.array([2, 14, 14])}, start_dim=0),
             "l": nir.Linear(weight=np.ones((10, 392))),
             "o": nir.IF(r=np.ones(10), v_threshold=np.full(10, 9.5), v_reset=np.full(10, -999.0)),
             "output": nir.Output(output_type={"output": np.array([10])})}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])))


def test_pooling_maps_only_when_it_is_the_earliest_spike():
    ck = importer.graph_checkpoint(pool_graph(nir.SumPool2d(np.array([2, 2]), np.array([2, 2]),
                                                            np.array([0, 0]))))
    assert spec_of(ck.arch) == "conv2k3p1,pool2,fc10" and ck.thetas == [3, 10]
    same = importer.graph_checkpoint(pool_graph(nir.SumPool2d(
        np.array([2, 2]), np.array([2, 2]), np.array([0, 0])), padding="same"))
    assert same.arch == ck.arch
    with pytest.raises(NirError, match="'pn': v_threshold / r outside"):
        importer.graph_checkpoint(pool_graph(nir.SumPool2d(np.array([2, 2]), np.array([2, 2]),
                                                           np.array([0, 0])), thr=1.5))
    with pytest.raises(NirError, match="node 'p' is a NIR AvgPool2d: not supported"):
        importer.graph_checkpoint(pool_graph(nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]),
                                                           np.array([0, 0]))))
