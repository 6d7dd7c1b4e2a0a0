"""Training speed (points/s) of the Graves-size synthesis network (3 x 400 LSTM, K = 10, M = 20).

Compares, in ONE run on the same device and the same weights:

- ``per-step``: a straightforward implementation that steps EVERY layer (and the window and the output
  layer) once per time step, as a per-step toolkit does;
- ``split``: engine.models.handwriting.SynthesisNet: only layer 1 + window stepped, the input projection
  hoisted out of the loop, layers 2..L one fused LSTM call each over the whole sequence;
- on CUDA also ``split+compile`` (torch.compile of the loop body) and ``split+graph`` (the whole training
  step, forward + loss + backward + clipping + a capturable Adam, captured in one CUDA graph; static
  shapes, as the bucketed batches of engine.training.ink_task provide).

One training step = forward, MDN loss, backward, global-norm clipping, Adam update. Both variants are
checked to compute the same outputs before timing.

    .venv/bin/python bench/handwriting_speed.py --device cpu --batch 32 --points 700 --steps 2
    .venv/bin/python bench/handwriting_speed.py --device cuda --batch 32 --points 700 --steps 20
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from engine.models import mdn
from engine.models.handwriting import INPUT_SIZE, HandwritingConfig, SynthesisNet, layer1_window_step


def per_step_forward(net: SynthesisNet, x: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
    """Every layer stepped per time step (same weights and math as SynthesisNet.forward)."""
    B = x.shape[0]
    cfg = net.cfg
    H = cfg.hidden
    u = torch.arange(chars.shape[1], device=x.device, dtype=x.dtype)
    hs = [x.new_zeros(B, H) for _ in range(cfg.layers)]
    cs = [x.new_zeros(B, H) for _ in range(cfg.layers)]
    w, kappa = x.new_zeros(B, cfg.vocab_size), x.new_zeros(B, cfg.window_k)
    l1 = net.lstm1
    ys = []
    for xt in x.unbind(1):   # (not x[:, t]: its backward would allocate a full-size gradient per step)
        xg = F.linear(xt, l1.weight_ih_l0[:, :INPUT_SIZE], l1.bias_ih_l0 + l1.bias_hh_l0)
        hs[0], cs[0], w, kappa, _ = layer1_window_step(xg, hs[0], cs[0], w, kappa, l1.weight_hh_l0,
                                                       l1.weight_ih_l0[:, INPUT_SIZE:], net.window.weight,
                                                       net.window.bias, chars, u)
        for i, rnn in enumerate(net.upper):
            inp = torch.cat([xt, hs[i], w], -1)
            hs[i + 1], cs[i + 1] = torch._VF.lstm_cell(inp, (hs[i + 1], cs[i + 1]), rnn.weight_ih_l0,
                                                       rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        ys.append(net.head(torch.cat(hs + [w], -1)))
    return torch.stack(ys, 1)


def make_batch(B, T, V, U, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, 3, generator=g)
    x[..., 2] = (torch.rand(B, T, generator=g) < 0.05).float()
    tgt = torch.cat([x[:, 1:], torch.randn(B, 1, 3, generator=g).clamp(-1, 1).abs().round()], 1)
    chars = F.one_hot(torch.randint(0, V, (B, U), generator=g), V).float()
    mask = torch.ones(B, T)
    return [t.to(device) for t in (x, tgt, mask, chars)]


def bench(name, step_fn, n_steps, points, sync):
    step_fn()  # warm-up (allocations, cuDNN plans, compilation)
    sync()
    t0 = time.perf_counter()
    for _ in range(n_steps):
        step_fn()
    sync()
    dt = (time.perf_counter() - t0) / n_steps
    print(f"{name:>14}: {dt * 1000:9.1f} ms/step  {points / dt:10.0f} points/s", flush=True)
    return {"variant": name, "ms_per_step": dt * 1000, "points_per_s": points / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--points", type=int, default=700)
    ap.add_argument("--chars", type=int, default=30, help="text length U")
    ap.add_argument("--vocab", type=int, default=80)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=400)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-per-step", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    net = SynthesisNet(HandwritingConfig(layers=a.layers, hidden=a.hidden, mixtures=20, window_k=10,
                                         vocab_size=a.vocab)).to(dev)
    x, tgt, mask, chars = make_batch(a.batch, a.points, a.vocab, a.chars, dev)
    points = a.batch * a.points
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    desc = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device {desc}; synthesis net {a.layers}x{a.hidden}, K=10, M=20, V={a.vocab}, "
          f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f}M params; batch {a.batch} x {a.points} points")

    with torch.no_grad():  # same function, two schedules
        short = slice(0, min(a.points, 50))
        ya, _ = net(x[:, short], chars)
        yb = per_step_forward(net, x[:, short], chars)
        diff = float((ya - yb).abs().max())
    print(f"max |split - per-step| output difference: {diff:.2e}")

    def train_step(forward, opt):
        def run():
            y = forward()
            loss = mdn.nll(y, tgt, 20, mask) / points
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        return run

    results = []
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    if not a.skip_per_step:
        results.append(bench("per-step", train_step(lambda: per_step_forward(net, x, chars), opt), a.steps, points, sync))
    results.append(bench("split", train_step(lambda: net(x, chars)[0], opt), a.steps, points, sync))
    if dev.type == "cuda":
        if net.compile_step(True):
            results.append(bench("split+compile", train_step(lambda: net(x, chars)[0], opt), a.steps, points, sync))
        net.compile_step(False)
        results.append(bench("split+graph", cuda_graph_step(net, x, tgt, mask, chars, points), a.steps, points, sync))
    base = results[0]["points_per_s"]
    for r in results:
        r["speedup_vs_first"] = r["points_per_s"] / base
    print("speed-up vs first: " + ", ".join(f"{r['variant']} {r['speedup_vs_first']:.2f}x" for r in results))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"device": desc, "args": vars(a), "max_output_diff": diff, "results": results}, fh, indent=1)


def cuda_graph_step(net, x, tgt, mask, chars, points):
    """The whole training step captured in one CUDA graph (static tensors, capturable Adam)."""
    opt = torch.optim.Adam(net.parameters(), 1e-4, capturable=True)
    clip = torch.tensor(1.0, device=x.device)

    def body():
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        if grads:
            torch._foreach_zero_(grads)
        y, _ = net(x, chars)
        loss = mdn.nll(y, tgt, 20, mask) / points
        loss.backward()
        params = [p for p in net.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        scale = torch.clamp(clip / (norm + 1e-6), max=1.0)
        torch._foreach_mul_([p.grad for p in params], scale)
        opt.step()
        return loss

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):  # warm up on a side stream (optimizer state, cuBLAS workspaces)
            opt.zero_grad(set_to_none=False)
            body()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=False)
    with torch.cuda.graph(g):
        body()

    return g.replay


if __name__ == "__main__":
    main()
