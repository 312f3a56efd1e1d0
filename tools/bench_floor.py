"""Timings against their floors, measured side by side (issue 16), printed as ratios with the machine's load.

    python tools/bench_floor.py [--cpu] [step] [epoch] [cli] [fourier]      (default: all four, wall time)

- step: one training step of the CoGS setting (M=71, hidden 512, 10% test, Adam, sqr, MSE) against its three
  matrix products alone (h@V.T, g.T@h, g@V at the step's shapes), at 1 and at 2 torch threads; the two are timed in
  alternating blocks in the same process and the medians compared.
- epoch: per-epoch time of `train` with the metrics logged every epoch against the same run logging once.
- cli: wall time of a one-epoch `group-agf train` against `python -c "import torch"`, alternating.
- fourier: the Fourier transform of 10,000 signals on S_5 against one matrix product (n, 2n) with the cached basis.

The machine may be shared: the script prints `uptime`'s load with each number; compare ratios, not times.
"""
import os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import torch

COGS = dict(M='71', hidden_size=512, activation='sqr', loss_func='mse', optim='adam', learning_rate=0.002,
            weight_decay=5e-5, test_size=0.1, seed=1, save_interval=None, device='cpu')

def load() -> str:
    return os.getloadavg().__repr__()

CLOCK = time.perf_counter          # wall time; `--cpu`: this process's CPU time (steadier on a shared machine)

def median_blocks(fns: dict, blocks: int = 7, per_block: int = 5) -> dict:
    "Median seconds per call of each function, timed in alternating blocks of `per_block` calls."
    times = {k: [] for k in fns}
    for _ in range(blocks):
        for k, f in fns.items():
            t0 = CLOCK()
            for _ in range(per_block): f()
            times[k].append((CLOCK() - t0) / per_block)
    return {k: statistics.median(v) for k, v in times.items()}

def gemm_floor_fn(B: int, H: int, C: int, dtype=torch.float32):
    "The step's three matrix products at its shapes, on fresh random operands."
    h, V, g = torch.randn(B, H, dtype=dtype), torch.randn(C, H, dtype=dtype), torch.randn(B, C, dtype=dtype)
    def products():
        h @ V.T; g.T @ h; g @ V
    return products

def bench_step(threads=(1, 2)):
    from group_agf.train import build_run, make_config
    from group_agf.engine import SingleRun
    cfg = make_config(COGS, num_epochs=100000, eval_interval=100000)
    out = []
    for t in threads:
        torch.set_num_threads(t)
        parts = build_run(cfg)
        run = SingleRun(parts)
        B, H, C = len(parts.train_idx), cfg.hidden_size, parts.task.n_classes
        floor = gemm_floor_fn(B, H, C)
        for _ in range(3): run.step(); floor()
        m = median_blocks({'step': run.step, 'gemm': floor})
        line = (f"step  threads={t}: step {m['step']*1e3:.2f} ms, three GEMMs {m['gemm']*1e3:.2f} ms, "
                f"ratio {m['step']/m['gemm']:.2f}x  (B={B}, H={H}, C={C}; load {load()})")
        print(line, flush=True); out.append(line)
    torch.set_num_threads(1)
    return out

def bench_epoch(num_epochs: int = 60, repeats: int = 3):
    from group_agf.train import make_config, train
    torch.set_num_threads(1)
    every = make_config(COGS, num_epochs=num_epochs, eval_interval=1)
    once = make_config(COGS, num_epochs=num_epochs, eval_interval=num_epochs)
    train(make_config(every, num_epochs=2), progress=False)
    t = {'every': [], 'once': []}
    for _ in range(repeats):
        for k, c in (('once', once), ('every', every)):
            t0 = CLOCK(); train(c, progress=False); t[k].append((CLOCK() - t0) / num_epochs)
    e, o = statistics.median(t['every']), statistics.median(t['once'])
    line = (f"epoch threads=1: metrics every epoch {e*1e3:.2f} ms/epoch, logged once {o*1e3:.2f} ms/epoch, "
            f"overhead {100*(e/o-1):.1f}%  ({num_epochs} epochs incl. setup; load {load()})")
    print(line, flush=True)
    return [line]

def bench_cli(repeats: int = 3):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', MPLBACKEND='Agg')
    args = ['M=71', 'hidden_size=512', 'activation=sqr', 'loss_func=mse', 'test_size=0.1', 'num_epochs=1', 'device=cpu']
    def run(cmd, cwd):
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t0, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    t = {'torch': [], 'train': []}
    with tempfile.TemporaryDirectory() as d:
        for i in range(repeats):
            t['torch'].append(run([sys.executable, '-c', 'import torch'], d))
            t['train'].append(run([sys.executable, '-c', 'import sys; from group_agf.cli import main; sys.exit(main())',
                                   'train', *args, '--no-progress', '--out', f'{d}/run{i}'], d))
    lines = []
    for c, name in ((0, 'wall'), (1, 'CPU')):
        a, b = (statistics.median(x[c] for x in t[k]) for k in ('torch', 'train'))
        lines.append(f"cli   {name} time: one-epoch `group-agf train` {b:.2f} s, `python -c 'import torch'` {a:.2f} s, "
                     f"difference {b-a:.2f} s  (medians of {repeats}; load {load()})")
        print(lines[-1], flush=True)
    return lines

def bench_fourier(n_signals: int = 10_000):
    from group_agf.groups import symmetric
    from group_agf.fourier import fourier_basis, fourier_transform
    torch.set_num_threads(1)
    G = symmetric(5)
    x = np.random.default_rng(0).normal(size=(n_signals, G.order))
    basis = fourier_basis(G)
    F2 = np.ascontiguousarray(np.concatenate([basis.forward_re, basis.forward_im], axis=1))   # (n, 2n) real
    fourier_transform(G, x)
    m = median_blocks({'transform': lambda: fourier_transform(G, x), 'gemm': lambda: x @ F2}, blocks=7, per_block=5)
    xt = torch.as_tensor(x)
    F2t = torch.as_tensor(F2)
    fourier_transform(G, xt)
    mt = median_blocks({'transform': lambda: fourier_transform(G, xt), 'gemm': lambda: xt @ F2t}, blocks=7, per_block=5)
    lines = [f"fourier S5 numpy: transform of {n_signals} signals {m['transform']*1e3:.2f} ms, one GEMM (n, 2n) "
             f"{m['gemm']*1e3:.2f} ms, ratio {m['transform']/m['gemm']:.2f}x  (load {load()})",
             f"fourier S5 torch: transform {mt['transform']*1e3:.2f} ms, one GEMM {mt['gemm']*1e3:.2f} ms, "
             f"ratio {mt['transform']/mt['gemm']:.2f}x  (load {load()})"]
    for l in lines: print(l, flush=True)
    return lines

if __name__ == '__main__':
    args = sys.argv[1:]
    if '--cpu' in args: args.remove('--cpu'); CLOCK = time.process_time
    which = args or ['step', 'epoch', 'cli', 'fourier']
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {load()}, clock {CLOCK.__name__}", flush=True)
    for w in which:
        {'step': bench_step, 'epoch': bench_epoch, 'cli': bench_cli, 'fourier': bench_fourier}[w]()
