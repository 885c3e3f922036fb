"""Long-range dependencies, measured: a Transformer vs LSTM vs GRU on the adding problem.

    python -m experiments.long_range [--seeds N] [--quick]

The text: attention "connects distant words regardless of distance", where a recurrent net must
carry information step by step. The task, lengths, data, optimiser, budget and threshold are those
of `memory_capacity` (solved: mean test MSE ≤ 0.01 over seeds; the first marked value lies in the
first half of the sequence). The Transformer is an encoder (sinusoidal positions, pre-norm, 2
layers, 4 heads, width = the RNNs' hidden size) whose mean-pooled top layer feeds a linear head.
"""
from __future__ import annotations

from experiments.memory_capacity import Preset, compare
from experiments.standalone import start
from jaxnets.models.rnn import SequenceModel
from jaxnets.models.transformer import TransformerClassifier

BUILDERS = {
    "transformer": lambda p: TransformerClassifier(outputs=1, d_model=p.hidden, num_heads=4, num_layers=2,
                                                   ff_dim=2 * p.hidden, max_len=max(p.lengths), pad_id=None),
    "lstm": lambda p: SequenceModel("lstm", hidden=p.hidden),
    "gru": lambda p: SequenceModel("gru", hidden=p.hidden),
}


def run(argv=None) -> dict:
    args, preset, out = start("long_range", Preset(), argv, __doc__)
    return compare("long_range", BUILDERS, args, preset, out)


if __name__ == "__main__":
    run()
