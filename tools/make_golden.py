"""Golden histories: fixed-seed runs whose metrics must not move when the training code is refactored.

`python tools/make_golden.py` writes `test/golden/histories.json`; `test/test_golden.py` reruns the same
configurations (single runs and ensembles) and asserts the histories equal the file. Regenerate only when a
change is *meant* to move the numbers, and say so in the commit message.
"""
import json, sys
from pathlib import Path

# Three arithmetic and three sequence configurations, float64 on the CPU, short enough for CI.
ARITHMETIC = {
    'z23_sqr_mse_adam': dict(M=23, hidden_size=48, activation='sqr', loss_func='mse', optim='adam',
                             learning_rate=0.01, weight_decay=5e-5, test_size=0.3, seed=1),
    'z23_relu_nll_sgd': dict(M=23, hidden_size=48, activation='relu', loss_func='nll', optim='sgd',
                             learning_rate=0.05, weight_decay=1e-4, test_size=0.3, seed=2),
    'z23_silu_nll_adamw': dict(M=23, hidden_size=48, activation='silu', loss_func='nll', optim='adamw',
                               learning_rate=0.005, weight_decay=1e-3, test_size=0.3, seed=3),
}
ARITHMETIC_COMMON = dict(num_epochs=60, eval_interval=5, save_interval=None, device='cpu', dtype='float64')
SEQUENCE = {
    'd3_preset': dict(preset='d3_full', num_epochs=300, eval_interval=20),
    'c10_mlp': dict(preset='c10_staircase', hidden=60, num_epochs=80, eval_interval=10),
    'd3_online_stop': dict(preset='d3_full', hidden=40, data_mode='online', batch_size=16, num_epochs=200,
                           eval_interval=10, reduction_threshold=0.5, init_seed=3, num_val=8),
}
SEQUENCE_COMMON = dict(save_interval=None, device='cpu', dtype='float64')
# Schedules and a QuadraticRNN ride along in single runs only (ensembles refuse schedules).
SINGLE_ONLY = {
    'arith_sym3_cosine': ('arithmetic', dict(group_type='sym', M=3, hidden_size=32, activation='sqr', loss_func='mse',
                                             optim='adam', learning_rate=0.01, lr_decay_type='cosine', test_size=0.5,
                                             seed=4)),
    'seq_qrnn_k3': ('sequence', dict(preset='c10_staircase', model='QuadraticRNN', hidden=40, num_epochs=60, eval_interval=10)),
}

def sequence_config(spec: dict) -> dict:
    "The keyword arguments of `make_sequence_config` for a golden sequence entry."
    spec = dict(spec)
    return dict(preset=spec.pop('preset', None), **(spec | SEQUENCE_COMMON))

def run_all() -> dict:
    "Histories of every golden configuration, as single runs and (where allowed) as one ensemble per family."
    from group_agf.train import train
    from group_agf.ensemble import train_ensemble
    from group_agf.sequential.config import make_sequence_config
    from group_agf.sequential.run import train_sequence
    from group_agf.sequence_ensemble import train_sequence_ensemble
    out = {}
    for name, spec in ARITHMETIC.items():
        out[f'single/{name}'] = train(spec | ARITHMETIC_COMMON, progress=False).history
    for name, spec in ARITHMETIC.items():   # the configs differ in activation, loss and optimizer: one ensemble each,
        seeds = [spec | ARITHMETIC_COMMON | dict(seed=spec['seed'] + s) for s in range(2)]   # of two seeds
        for s, r in enumerate(train_ensemble(seeds, progress=False)):
            out[f'ensemble/{name}/member{s}'] = r.history
    for name, spec in SEQUENCE.items():
        out[f'single/{name}'] = train_sequence(make_sequence_config(**sequence_config(spec)), progress=False).history
    for name, spec in SEQUENCE.items():   # one ensemble each, of two initializations
        base = make_sequence_config(**sequence_config(spec))
        members = [dict(base.to_dict(), init_seed=base.init_seed + s) for s in range(2)]
        for s, r in enumerate(train_sequence_ensemble(members, progress=False)):
            out[f'ensemble/{name}/member{s}'] = r.history
    for name, (family, spec) in SINGLE_ONLY.items():
        if family == 'arithmetic': out[f'single/{name}'] = train(spec | ARITHMETIC_COMMON, progress=False).history
        else: out[f'single/{name}'] = train_sequence(make_sequence_config(**sequence_config(spec)), progress=False).history
    return {k: [{c: v for c, v in row.items() if c != 'elapsed_s'} for row in h] for k, h in out.items()}

GOLDEN = Path(__file__).resolve().parent.parent / 'test' / 'golden' / 'histories.json'

if __name__ == '__main__':
    import torch
    torch.set_num_threads(1)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(run_all(), indent=0, allow_nan=True))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
