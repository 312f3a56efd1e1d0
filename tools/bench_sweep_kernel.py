"""Per-run overhead of papermill-mode sweeps with and without a kept kernel per worker (issue 16, item 3).

    python tools/bench_sweep_kernel.py [--rounds 2] [--spec SPEC.yaml] [--workers 1]

Runs the same papermill sweep of tiny runs (default: `TINY` below, six runs of M=5, 8 hidden units, 5 epochs, so that
a run's time is almost all overhead; or any spec file) into fresh temporary folders, alternating a fresh kernel per
run (`reuse_kernel: false`, the default) with one kept kernel per worker (`reuse_kernel: true`), `--rounds` times
each.
It prints each sweep's wall time per run, the medians and their ratio, and checks that both give the same metrics.

The machine may be shared: the script prints the load average with each number; compare ratios, not times.
"""
import argparse, json, os, statistics, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

from group_agf.sweep import load_spec, run_sweep   # noqa: E402  (after the environment the kernels inherit)

TINY = dict(name='tiny_papermill_6', mode='papermill', grid=dict(weight_decay=[0.0, 1e-3]), seeds=[1, 2, 3],
            base=dict(M=5, hidden_size=8, num_epochs=5, eval_interval=5, save_interval=5, test_size=0.3))


def metrics(out: Path) -> dict:
    "Each run's recorded history (metrics.csv without its `elapsed_s` column), by run folder name."
    rows = {}
    for d in sorted((out / 'runs').iterdir()):
        lines = [line.split(',') for line in (d / 'metrics.csv').read_text().splitlines()]
        keep = [i for i, name in enumerate(lines[0]) if name != 'elapsed_s']
        rows[d.name] = [[line[i] for i in keep] for line in lines]
    return rows


def one_sweep(spec, reuse: bool, workers: int) -> tuple[float, dict]:
    "Wall seconds per run of the sweep in a fresh folder, and its metrics."
    with tempfile.TemporaryDirectory() as d:
        res = run_sweep(spec, out=Path(d) / 'sweep', workers=workers, mode='papermill', progress=False, reuse_kernel=reuse)
        if not res.ok: raise SystemExit(res.report())
        return res.wall_s / len(res.runs), metrics(res.out)


def main(argv=None) -> int:
    "Alternate the two kinds of sweep, print the times and the ratio; exit status 1 if their metrics differ."
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rounds', type=int, default=2, help="sweeps of each kind, alternating (default 2)")
    p.add_argument('--spec', default=None, help="a sweep spec of tiny train runs (default: six runs of M=5, 5 epochs)")
    p.add_argument('--workers', type=int, default=1, help="sweep workers (1: in this process)")
    args = p.parse_args(argv)
    if args.rounds < 1: p.error(f"--rounds: got {args.rounds}; allowed: an integer >= 1")
    spec = load_spec(args.spec or TINY)
    times, seen = {False: [], True: []}, {}
    for r in range(args.rounds):
        for reuse in (False, True):
            per_run, m = one_sweep(spec, reuse, args.workers)
            times[reuse].append(per_run)
            seen[reuse] = m
            print(f"round {r + 1} {'kept kernel ' if reuse else 'fresh kernel'}: {per_run:.2f} s per run "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    fresh, kept = statistics.median(times[False]), statistics.median(times[True])
    same = seen[False] == seen[True]
    print(f"median per run: fresh kernel {fresh:.2f} s, kept kernel {kept:.2f} s: {fresh / kept:.2f}x "
          f"({args.workers} worker(s), {spec.name}); metrics identical: {same}")
    print(json.dumps(dict(fresh_s=round(fresh, 3), kept_s=round(kept, 3), ratio=round(fresh / kept, 3), same_metrics=same)))
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
