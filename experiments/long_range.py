"""Long-range dependencies, measured: a Transformer vs LSTM vs GRU on the adding problem.

    python -m experiments.long_range [--seeds N] [--quick]

The text: attention "connects distant words regardless of distance", where a recurrent net must
carry information step by step. The task, lengths, optimiser and threshold are those of
`memory_capacity` (solved: mean test MSE <= 0.01 over seeds; the first marked value lies in the
first half of the sequence), with half its training sequences, 3 seeds and 30 epochs (patience
10), so that the Transformer's T^2 attention fits the run in about ten minutes on 2 cores; the RNNs
are retrained here on the same data. The Transformer is a one-layer encoder (sinusoidal positions,
pre-norm, 4 heads, width = the RNNs' hidden size) whose mean-pooled output feeds a linear head.
"""
from __future__ import annotations

import dataclasses

from experiments.memory_capacity import Preset, compare
from experiments.standalone import start
from jaxnets.models.rnn import SequenceModel
from jaxnets.models.transformer import TransformerClassifier

BUILDERS = {
    "transformer": lambda p: TransformerClassifier(outputs=1, d_model=p.hidden, num_heads=4, num_layers=1,
                                                   ff_dim=2 * p.hidden, max_len=max(p.lengths), pad_id=None),
    "lstm": lambda p: SequenceModel("lstm", hidden=p.hidden),
    "gru": lambda p: SequenceModel("gru", hidden=p.hidden),
}


def run(argv=None) -> dict:
    preset = dataclasses.replace(Preset(), n_train=800, seeds=3, epochs=30, patience=10)
    args, preset, out = start("long_range", preset, argv, __doc__)
    return compare("long_range", BUILDERS, args, preset, out)


if __name__ == "__main__":
    run()
