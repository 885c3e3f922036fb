"""The seed's `activation_function_comparison`: digits, 64 → 128 → 64 → 10 with each activation.

    python -m experiments.activation_comparison [--preset seed|default] [--seeds N] [--quick]
"""
from __future__ import annotations

from experiments.common import ModelSpec, Preset, main

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
SPECS = [ModelSpec(a, (128, 64, 10), a) for a in ACTIVATIONS]

PRESETS = {
    # The text: 80/20 stratified split (random_state=42), no validation set, Xavier-uniform init,
    # plain SGD lr=0.001, batch 32, 300 epochs, the last epoch's weights evaluated.
    "seed": Preset(dataset="digits", optimizer="sgd", learning_rate=1e-3, epochs=300, batch_size=32,
                   val_size=0.0, kernel_init="xavier_uniform", restore_best=False),
    # A practitioner: 10 % of the training split for validation, He/Xavier init by activation,
    # Adam, early stopping with best-weights restore.
    "default": Preset(dataset="digits", optimizer="adam", learning_rate=1e-3, epochs=200, batch_size=32,
                      val_size=0.1, val_from="train", patience=20),
}



def run(argv=None) -> dict:
    return main("activation_comparison", PRESETS, SPECS, argv)


if __name__ == "__main__":
    run()
