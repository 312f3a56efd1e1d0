"""Same-work benchmark against seed 000's own script: per-epoch time of `group-agf train` and of a CPU copy of
`ssl/real-dataset/cogo/modular_addition_simple2.py` from a checkout of facebookresearch/luckmatters, on one setting.

    python tools/bench_seed000.py /path/to/luckmatters [--threads 1] [--repeats 3] [--package-root DIR]
                                  [--seed-epochs 5 25] [--ours-epochs 20 520] [key=value ...]

Nothing of the seed is shipped here: at run time the script copies the seed's files from the checkout into a temporary
folder and makes them run on the CPU there (every `.cuda()` removed), with two small stand-ins of ours: `hydra`
(the decorated `main` receives the seed's `config/dyn_madd.yaml` with the `key=value` overrides, and logging goes to
a file, as under Hydra) and `common_utils` (the checkout's `set_all_seeds`, and a `print_info` that formats the
config). Both programs run as fresh processes, alternately, at the same number of torch threads.

The setting is the CoGS one of `group_agf.benchmarks.COGS_M71` (M=71, hidden 512, 10% test, Adam, sqr, projected
MSE), with every metric recorded every epoch on both sides (the seed evaluates both splits every epoch; ours runs with
`eval_interval=1`) and no checkpoints (`save_interval=null` on both). The seed's `dyn_madd.yaml` sets
`set_weight_reg: 1e-3`, which its own assertion allows only with `loss_func=mse`; the ridge readout is not part of
the CoGS setting, so both sides run with `set_weight_reg=null`. The seed also computes its kernel statistics of the
hidden layer at every step (`stats_tracker`), which `group-agf train` does only with `track_stats=true`: add
`track_stats=true` to the overrides to make ours do that work too.

Per-epoch time is the difference between a long and a short run divided by the difference in epochs, so start-up,
imports and the dataset are not counted on either side. Each run is timed `--repeats` times, alternating, and the
medians are compared, in wall time and in CPU time (user + system of the child process: on a shared machine the
steadier of the two for one-thread runs); `uptime`'s load is printed with the numbers.
"""
import argparse, ast, os, re, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = Path('ssl/real-dataset/cogo')
SEED_FILES = ('modular_addition_simple2.py', 'muon_opt.py', 'modular_addition_load.py', 'config/dyn_madd.yaml')
COGS = dict(M='71', hidden_size='512', activation='sqr', loss_func='mse', optim='adam', learning_rate='0.002',
            weight_decay='5e-5', test_size='0.1', seed='1')

HYDRA_STANDIN = '''
"""Stand-in for hydra.main: the YAML config with key=value overrides from the command line, logging to a file."""
import logging, os, re, sys, types
import yaml

def value(v):
    "As OmegaConf reads it: 1e-4 is a float (PyYAML alone reads a string)."
    if isinstance(v, str) and re.fullmatch(r'[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+', v.strip()): return float(v)
    return v

def main(config_path=None, config_name=None, **_):
    def decorate(task):
        def run():
            here = os.path.dirname(os.path.abspath(__file__))
            cfg = {k: value(v) for k, v in yaml.safe_load(open(os.path.join(here, config_path, config_name))).items()}
            for token in sys.argv[1:]:
                key, _, text = token.partition('=')
                if key not in cfg: raise SystemExit(f"unknown key {key!r}")
                cfg[key] = value(yaml.safe_load(text))
            logging.basicConfig(filename='main.log', level=logging.INFO)
            import torch
            torch.set_num_threads(int(os.environ.get('BENCH_THREADS', '1')))
            return task(types.SimpleNamespace(**cfg))
        return run
    return decorate
'''

def build_seed_copy(checkout: Path, dest: Path) -> Path:
    "A CPU copy of the seed's script (and what it imports) in `dest`; returns the script's path."
    src = checkout / SEED_DIR
    missing = [f for f in SEED_FILES if not (src / f).exists()]
    if missing:
        raise SystemExit(f"{checkout}: not a checkout of facebookresearch/luckmatters (missing {', '.join(missing)} under {SEED_DIR})")
    for f in SEED_FILES:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        text = (src / f).read_text()
        if f.endswith('.py'): text = re.sub(r'\.cuda\(\)', '', text)          # CPU copy
        (dest / f).write_text(text)
    (dest / 'hydra.py').write_text(HYDRA_STANDIN)
    # common_utils: the checkout's set_all_seeds (the seed's seeding), and print_info, absent from the checkout
    helper = checkout / 'ssl' / 'common_utils' / 'helper.py'
    seeding = ''
    if helper.exists():
        tree = ast.parse(helper.read_text())
        node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'set_all_seeds'), None)
        if node is not None: seeding = ast.get_source_segment(helper.read_text(), node)
    if not seeding: raise SystemExit(f"{helper}: no set_all_seeds found")
    (dest / 'common_utils.py').write_text("import random\nimport numpy as np\nimport torch\n\n" + seeding +
                                          "\n\ndef print_info(args):\n    return str(vars(args))\n")
    return dest / 'modular_addition_simple2.py'

def timed(cmd, cwd, env) -> tuple[float, float]:
    "Wall time and CPU time (user + system) of one run of `cmd`; a failure stops the benchmark with its output."
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(map(str, cmd))}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('checkout', type=Path, help="a checkout of facebookresearch/luckmatters")
    p.add_argument('--threads', type=int, default=1, help="torch threads on both sides (default 1)")
    p.add_argument('--repeats', type=int, default=3, help="timings per run length and side (default 3)")
    p.add_argument('--seed-epochs', type=int, nargs=2, default=(5, 25), metavar=('SHORT', 'LONG'))
    p.add_argument('--ours-epochs', type=int, nargs=2, default=(20, 520), metavar=('SHORT', 'LONG'))
    p.add_argument('--package-root', type=Path, default=ROOT,
                   help="the checkout of group_agf to import (default: this one; e.g. an older commit, for a before/after)")
    p.add_argument('overrides', nargs='*', metavar='key=value', help="setting changes, applied to both sides")
    args = p.parse_args(argv)
    setting = dict(COGS)
    for token in args.overrides:
        k, eq, v = token.partition('=')
        if not eq: p.error(f"expected key=value, got {token!r}")
        setting[k] = v
    ours_only = {k: setting.pop(k) for k in ('track_stats', 'device', 'dtype') if k in setting}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               BENCH_THREADS=str(args.threads), PYTHONPATH=str(args.package_root.resolve()), MPLBACKEND='Agg')
    with tempfile.TemporaryDirectory(prefix='bench_seed000_') as tmp:
        tmp = Path(tmp)
        seed_dir = tmp / 'seed'
        script = build_seed_copy(args.checkout.resolve(), seed_dir)
        common = [f'{k}={v}' for k, v in setting.items()]
        def seed_cmd(epochs):
            return [sys.executable, str(script), *common, 'set_weight_reg=null', 'save_interval=null', f'num_epochs={epochs}']
        def ours_cmd(epochs, i):
            return [sys.executable, '-c', 'import sys; from group_agf.cli import main; sys.exit(main())', 'train',
                    *common, *(f'{k}={v}' for k, v in ours_only.items()), 'device=' + ours_only.get('device', 'cpu'),
                    'eval_interval=1', 'save_interval=null', f'num_epochs={epochs}', '--no-progress', '--out',
                    str(tmp / f'ours_{epochs}_{i}')]
        print(f"setting: {' '.join(common)}; {args.threads} torch thread(s); seed epochs {args.seed_epochs}, "
              f"ours {args.ours_epochs}; load {os.getloadavg()}", flush=True)
        times = {(side, e): [] for side, spans in (('seed', args.seed_epochs), ('ours', args.ours_epochs)) for e in spans}
        for i in range(args.repeats):
            for e_seed, e_ours in zip(args.seed_epochs, args.ours_epochs):
                times['seed', e_seed].append(timed(seed_cmd(e_seed), seed_dir, env))
                times['ours', e_ours].append(timed(ours_cmd(e_ours, i), tmp, env))
            print(f"  round {i + 1}/{args.repeats}: " + ', '.join(f"{s} {e} epochs {v[-1][0]:.2f} s" for (s, e), v in times.items())
                  + f"; load {os.getloadavg()}", flush=True)
        per_epoch = {}
        for clock, name in ((0, 'wall'), (1, 'CPU')):
            med = {k: statistics.median(t[clock] for t in v) for k, v in times.items()}
            per_epoch[name] = {side: (med[side, spans[1]] - med[side, spans[0]]) / (spans[1] - spans[0])
                               for side, spans in (('seed', args.seed_epochs), ('ours', args.ours_epochs))}
            pe = per_epoch[name]
            print(f"{name:4s} time: seed 000 (CPU copy) {pe['seed'] * 1e3:.1f} ms/epoch, group-agf train "
                  f"{pe['ours'] * 1e3:.2f} ms/epoch: ratio {pe['seed'] / pe['ours']:.1f}x")
        print(f"(medians of {args.repeats}; CPU time is user + system of the processes, steadier on a shared machine; "
              f"load {os.getloadavg()})")
        return per_epoch

if __name__ == '__main__':
    main()
