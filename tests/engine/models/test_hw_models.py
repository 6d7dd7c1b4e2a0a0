"""The handwriting networks: gradients, the attention window, wiring, step modules, checkpoints."""

import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch.func import functional_call

import engine.training.checkpoint as ckpt
from engine.models import mdn
from engine.models.handwriting import HandwritingConfig, PredictionNet, SynthesisNet, SynthesisStep, layer1_window_step

TINY = dict(layers=2, hidden=4, mixtures=2, window_k=2)


def _onehot(ids, v):
    return torch.eye(v)[None, ids]


def _batch(seed=0, B=2, T=5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, 3, generator=g, dtype=dtype)
    x[..., 2] = (x[..., 2] > 0.5).to(dtype)
    tgt = torch.randn(B, T, 3, generator=g, dtype=dtype)
    tgt[..., 2] = (tgt[..., 2] > 0.5).to(dtype)
    return x, tgt


@pytest.mark.parametrize("kind", ["synthesis", "prediction"])
def test_gradcheck_tiny_model_double(kind):
    torch.manual_seed(0)
    cfg = HandwritingConfig(**TINY, vocab_size=3)
    net = (SynthesisNet(cfg) if kind == "synthesis" else PredictionNet(cfg)).double()
    x, tgt = _batch(dtype=torch.float64)
    chars = torch.cat([_onehot([0, 2, 1], 3), _onehot([1, 1, 0], 3)]).double()
    mask = torch.ones(2, 5, dtype=torch.float64)
    mask[0, 3:] = 0
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())

    def loss(xin, *ps):
        args = (xin, chars) if kind == "synthesis" else (xin,)
        y = functional_call(net, dict(zip(names, ps)), args)[0]
        return mdn.nll(y, tgt, cfg.mixtures, mask)

    assert torch.autograd.gradcheck(loss, (x.clone().requires_grad_(True),) + params, eps=1e-6, atol=1e-5)


def test_window_math_against_closed_form():
    """Constant window parameters: alpha, beta fixed, kappa_t = kappa_0 + (t+1) * offset."""
    K, U, V, H = 2, 6, 4, 3
    alpha, beta, off = torch.tensor([0.7, 1.3]), torch.tensor([0.5, 2.0]), torch.tensor([0.25, 0.4])
    win_w = torch.zeros(3 * K, H)
    win_b = torch.cat([alpha.log(), beta.log(), off.log()])
    ids = [1, 3, 0, 2, 2, 1]
    chars = _onehot(ids, V)
    u = torch.arange(U + 1, dtype=torch.float32)
    h = c = torch.zeros(1, H)
    w, kappa = torch.zeros(1, V), torch.zeros(1, K)
    for t in range(5):
        h, c, w, kappa, phi = layer1_window_step(torch.randn(1, 4 * H), h, c, w, kappa, torch.randn(4 * H, H),
                                                 torch.randn(4 * H, V), win_w, win_b, chars, u)
        kap = (t + 1) * off
        want_phi = [sum(float(alpha[k]) * math.exp(-float(beta[k]) * (float(kap[k]) - uu) ** 2) for k in range(K))
                    for uu in range(U + 1)]
        assert phi.shape == (1, U + 1)
        assert phi[0].tolist() == pytest.approx(want_phi, rel=1e-5)
        want_w = np.zeros(V)
        for uu, i in enumerate(ids):
            want_w[i] += want_phi[uu]
        assert w[0].tolist() == pytest.approx(want_w.tolist(), rel=1e-5)   # past-the-end position not read


@torch.no_grad()
def _reference_attention(net, x, chars):
    """Layer 1 and the window written out from the paper's equations (an ``nn.LSTMCell`` holding layer 1's
    weights, explicit loops over the K Gaussians and the U positions): returns phi (B, T, U), kappa (B, T, K)
    and the last window w (B, V)."""
    cfg = net.cfg
    B, T, _ = x.shape
    U, K = chars.shape[1], cfg.window_k
    cell = torch.nn.LSTMCell(3 + cfg.vocab_size, cfg.hidden)
    cell.weight_ih.copy_(net.lstm1.weight_ih_l0)
    cell.weight_hh.copy_(net.lstm1.weight_hh_l0)
    cell.bias_ih.copy_(net.lstm1.bias_ih_l0)
    cell.bias_hh.copy_(net.lstm1.bias_hh_l0)
    h = c = torch.zeros(B, cfg.hidden)
    w, kappa = torch.zeros(B, cfg.vocab_size), torch.zeros(B, K)
    phis, kappas = [], []
    for t in range(T):
        h, c = cell(torch.cat([x[:, t], w], -1), (h, c))            # w_{t-1} feeds layer 1
        p = h @ net.window.weight.T + net.window.bias
        alpha, beta, kappa = p[:, :K].exp(), p[:, K:2 * K].exp(), kappa + p[:, 2 * K:].exp()
        phi = torch.zeros(B, U)
        for u in range(U):
            for k in range(K):
                phi[:, u] += alpha[:, k] * torch.exp(-beta[:, k] * (kappa[:, k] - u) ** 2)
        w = (phi[:, :, None] * chars).sum(1)                          # w_t = sum_u phi(t, u) c_u
        phis.append(phi)
        kappas.append(kappa)
    return torch.stack(phis, 1), torch.stack(kappas, 1), w


def test_attention_shapes_and_kappa_never_decreases():
    torch.manual_seed(1)
    net = SynthesisNet(HandwritingConfig(layers=2, hidden=8, mixtures=3, window_k=3, vocab_size=5))
    x, _ = _batch(B=3, T=12)
    chars = torch.cat([_onehot([0, 1, 2, 3], 5), _onehot([4, 4, 0, 0], 5), _onehot([1, 2, 0, 0], 5)])
    chars[2, 2:] = 0   # padding rows
    with torch.no_grad():
        for p in net.window.parameters():
            p.normal_(0, 2.0)   # make the offsets vary a lot
        y, state, att = net(x, chars, attention=True)
    assert y.shape == (3, 12, mdn.mdn_size(3))
    assert att["phi"].shape == (3, 12, 4) and att["kappa"].shape == (3, 12, 3)
    assert torch.all(att["kappa"][:, 1:] >= att["kappa"][:, :-1]) and torch.all(att["kappa"][:, 0] > 0)
    assert torch.allclose(state["kappa"], att["kappa"][:, -1])
    # phi and kappa at every step equal the paper's window recomputed independently (padding rows included)
    with torch.no_grad():
        want_phi, want_kappa, want_w = _reference_attention(net, x, chars)
    assert torch.allclose(att["kappa"], want_kappa, rtol=1e-5, atol=1e-6)
    assert torch.allclose(att["phi"], want_phi, rtol=1e-4, atol=1e-6)
    assert torch.allclose(state["w"], want_w, rtol=1e-4, atol=1e-6)
    assert float(att["phi"].amax()) > 1e-3                          # not trivially all zero


def test_synthesis_wiring_window_feeds_layer1_one_step_late():
    """w_{t-1} feeds layer 1: the text cannot change layer 1 (hence kappa) at t=0, only from t=1 on;
    w_t feeds the upper layers and the output: the text changes y already at t=0."""
    torch.manual_seed(2)
    net = SynthesisNet(HandwritingConfig(layers=3, hidden=8, mixtures=2, window_k=2, vocab_size=4)).eval()
    x, _ = _batch(B=1, T=4)
    with torch.no_grad():
        y1, _, a1 = net(x, _onehot([0, 1, 2], 4), attention=True)
        y2, _, a2 = net(x, _onehot([3, 3, 1], 4), attention=True)
    assert torch.equal(a1["kappa"][:, 0], a2["kappa"][:, 0])
    assert not torch.allclose(a1["kappa"][:, 1], a2["kappa"][:, 1])
    assert not torch.allclose(y1[:, 0], y2[:, 0])


@pytest.mark.parametrize("kind", ["synthesis", "prediction"])
def test_step_module_matches_sequence_forward(kind):
    torch.manual_seed(3)
    cfg = HandwritingConfig(layers=3, hidden=16, mixtures=3, window_k=2, vocab_size=5)
    net = (SynthesisNet(cfg) if kind == "synthesis" else PredictionNet(cfg)).eval()
    step = net.step_module()
    x, _ = _batch(B=1, T=9)
    chars = _onehot([0, 2, 1, 4], 5)
    with torch.no_grad():
        y = net(x, chars, attention=True) if kind == "synthesis" else net(x)
    st = step.initial_state()
    assert set(step.input_names) == {"x", *st} | ({"chars"} if kind == "synthesis" else set())
    assert step.output_names[0] == "y" and all(f"{n}_out" in step.output_names for n in st)
    ex = step.example_inputs()
    assert len(ex) == len(step.input_names) and ex[0].shape == (1, 3)
    for t in range(9):
        feeds = {"x": x[:, t].numpy(), **st}
        if kind == "synthesis":
            feeds["chars"] = chars.numpy()
        out = step.step(feeds)
        st = {n: out[f"{n}_out"] for n in st}
        want = mdn.constrain(y[0][0, t], 3).numpy()
        assert np.allclose(out["y"][0], want, atol=1e-5)
        if kind == "synthesis":
            assert out["phi"].shape == (1, 5)
            assert np.allclose(out["phi"][0, :4], y[2]["phi"][0, t].numpy(), atol=1e-6)


@pytest.mark.parametrize("cls,extra", [(SynthesisNet, {"vocab_size": 7}), (PredictionNet, {})])
def test_checkpoint_round_trip_through_model_builders(tmp_path, cls, extra):
    torch.manual_seed(4)
    net = cls(HandwritingConfig(layers=2, hidden=8, mixtures=2, window_k=3, **extra))
    ckpt.save_checkpoint(tmp_path, model=net, card={"kind": net.kind, "model_config": net.config_dict(), "step": 1})
    loaded, card = ckpt.load_model(tmp_path)
    assert type(loaded) is cls and card["kind"] == net.kind
    for (n, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), n


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="vocab_size"):
        SynthesisNet(HandwritingConfig(vocab_size=0))
    with pytest.raises(ValueError, match="unknown handwriting model settings"):
        SynthesisNet.from_config({"vocab_size": 3, "cell": "gru"})


def test_synthesis_step_exports_to_onnx_with_dynamic_text_length(tmp_path):
    net = SynthesisNet(HandwritingConfig(layers=2, hidden=8, mixtures=2, window_k=2, vocab_size=5)).eval()
    step = SynthesisStep(net)
    path = tmp_path / "step.onnx"
    torch.onnx.export(step, step.example_inputs(), str(path), input_names=step.input_names,
                      output_names=step.output_names, dynamic_axes=step.dynamic_axes, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"x": np.array([[0.1, -0.2, 0.0]], np.float32), "chars": _onehot([1, 3, 0, 2, 4, 4, 1], 5).numpy(),
             **step.initial_state()}
    got = dict(zip(step.output_names, sess.run(step.output_names, feeds)))
    want = step.step(feeds)
    assert got["phi"].shape == (1, 8)
    for n in step.output_names:
        assert np.allclose(got[n], want[n], atol=1e-5), n


def test_a_window_switch_is_a_prime_then_the_window_placed_on_new_text():
    """forward(..., switch=(at, chars2)) = the first ``at`` steps on chars, then the window state reset and the
    rest on chars2 with the LSTM states carried: what ink_stream does after a prime."""
    torch.manual_seed(5)
    cfg = HandwritingConfig(layers=3, hidden=8, mixtures=2, window_k=2, vocab_size=6)
    net = SynthesisNet(cfg).eval()
    x, _ = _batch(B=2, T=11)
    chars = torch.cat([_onehot([0, 2, 1, 4], 6), _onehot([3, 3, 5, 0], 6)])
    chars2 = torch.cat([_onehot([5, 1, 2, 0], 6), _onehot([1, 1, 1, 1], 6)])
    at = torch.tensor([6, -1])     # line 0 switches before step 6, line 1 never
    with torch.no_grad():
        y, st = net(x, chars, switch=(at, chars2))
        head, mid = net(x[:1, :6], chars[:1])
        mid = {**mid, "kappa": torch.zeros_like(mid["kappa"]), "w": torch.zeros_like(mid["w"])}
        tail, _ = net(x[:1, 6:], chars2[:1], state=mid)
        plain, _ = net(x[1:], chars[1:])
    assert torch.allclose(y[:1], torch.cat([head, tail], 1), atol=1e-6)
    assert torch.allclose(y[1:], plain, atol=1e-6)
    assert not torch.allclose(y[:1, 6:], net(x[:1], chars[:1])[0][:, 6:], atol=1e-3)   # the switch matters
