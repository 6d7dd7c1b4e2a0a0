"""Throughput of a bare LSTM char-model training step at a given torch thread count.

    python bench/charlm_threads.py THREADS

Used to compare 1 vs 2 threads on a shared machine (see RESULTS-charlm.md, "threads"): prints tokens/s
(the median of 3 timed steps after 2 warm-up steps) for a few model and batch shapes.
"""

import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())


def run(cell, layers, H, B, T, E=64, V=65, n=3):
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](E, H, layers, batch_first=True)
    emb, head = nn.Embedding(V, E), nn.Linear(H, V)
    params = list(rnn.parameters()) + list(emb.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, 2e-3)
    x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    st, ts = None, []
    for _ in range(n + 2):
        t0 = time.time()
        out, st = rnn(emb(x), st)
        st = tuple(s.detach() for s in st) if isinstance(st, tuple) else st.detach()
        loss = F.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ts.append(time.time() - t0)
    dt = sorted(ts[2:])[len(ts[2:]) // 2]
    print(torch.get_num_threads(), cell, layers, H, B, T, f"{B * T / dt:,.0f} tok/s {dt * 1000:.0f} ms/step",
          flush=True)


for cfg in [("lstm", 2, 384, 64, 128), ("lstm", 2, 384, 32, 64), ("lstm", 2, 384, 32, 128),
            ("lstm", 2, 512, 32, 128), ("lstm", 2, 512, 64, 128)]:
    run(*cfg)
