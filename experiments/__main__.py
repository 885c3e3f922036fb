"""`python -m experiments list`: the experiment index."""
from __future__ import annotations

import importlib
import sys

EXPERIMENTS = {
    "architecture_comparison": "four MLP depths/widths on breast cancer (seed's compare_architectures)",
    "activation_comparison": "sigmoid / tanh / relu / leaky_relu on digits (seed's activation comparison)",
    "cnn_vs_mlp": "digits 8x8: MLPs vs LeNet vs VGG-style vs ResNet-style (accuracy, parameters, speed)",
    "translation_invariance": "digits shifted by 0/1/2 px: MLP vs CNNs, with and without shift augmentation",
    "filters_and_feature_maps": "the seed's classic filters on a photo; learned LeNet kernels, feature maps, RF",
    "depth_and_skips": "20-layer plain vs residual CNNs (+/- BatchNorm): gradient norms at init, training",
    "memory_capacity": "adding problem at T = 5..200: vanilla RNN vs LSTM vs GRU, longest length solved",
    "vanishing_gradients": "norm of dloss/dh_t against t for RNN/LSTM/GRU, at init and after training",
    "forecasting": "yearly sunspots (statsmodels): RNN/LSTM/GRU vs naive and seasonal-naive, 1- and 11-step",
    "text_generation": "character LM on CPython's doc topics: RNN/LSTM/GRU bits per char, samples",
    "attention_maps": "what attention attends to: matching-token retrieval and subject-verb agreement heatmaps",
    "seq2seq_translation": "digit strings to words / reversed: Transformer vs LSTM encoder-decoder by length",
    "char_transformer": "character Transformer vs RNN/LSTM/GRU at an equal training-time budget: test bits/char",
    "long_range": "adding problem at T = 5..200: Transformer vs LSTM vs GRU (memory_capacity's protocol)",
    "attention_cost": "time and memory of a training step vs length: attention vs chunked attention vs LSTM",
    "compression": "digits to latent 2..32: autoencoder vs linear autoencoder vs PCA reconstruction error",
    "ae_variants": "vanilla / sparse (L1, KL) / contractive / denoising AEs: sparsity, sensitivity, probe accuracy",
    "denoising": "Gaussian / masking noise on digits: denoising AEs (MLP, conv) vs plain AE, PSNR / SSIM",
    "anomaly_detection": "breast cancer, benign-only training: AE / DAE / VAE scores vs PCA, IsolationForest, OCSVM",
    "latent_space": "2-D VAE on digits: beta 0.5/1/4 with and without KL annealing, active units, latent plots",
    "gan_modes": "8-Gaussian ring: modes covered by GAN settings (R1, minimax, collapse); a digits GAN",
    "optimizers": "SGD / momentum / Nesterov / RMSProp / Adam / AdamW, each at its best swept learning rate",
    "vanishing_and_dying": "10-layer MLP, sigmoid / tanh / relu / leaky_relu: gradient per layer, dead units",
    "schedules": "constant vs step vs cosine vs warmup + cosine vs reduce-on-plateau, each at its best peak rate",
    "initialisation": "zeros / too small / Xavier / He in 10-layer ReLU and tanh MLPs: signals at init, training",
    "regularization": "10 % of digits: none vs L2 vs dropout vs BatchNorm vs early stopping vs all",
    "depth_and_time": "breast cancer MLPs of depth 1..8 and width 8..256: time per epoch and test accuracy",
    "benchmark": "speed: jaxnets vs the seed's NumPy loop vs PyTorch-CPU (what `make bench` runs)",
    "bench_sequences": "speed: char Transformer, LSTM, GRU and char LSTM, jaxnets vs PyTorch-CPU (in `make bench`)",
    "bench_training": "speed: a 32-member learning-rate sweep in one program vs one setting; diagnostics' cost",
    "bench_serving": "production: the prediction CLI's rows/s, the HTTP endpoint under load (in `make bench`)",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("list", "-h", "--help"):
        print("experiments (run with `python -m experiments.<name> [--preset seed|default] [--quick]`; "
              "`python -m experiments report` gathers their newest results into one page):")
        for name, what in EXPERIMENTS.items():
            print(f"  {name:<26} {what}")
        return 0
    name = argv[0]
    if name == "report":  # not an experiment: the page over all of them (experiments/report.py)
        from experiments.report import run

        return run(argv[1:])
    if name not in EXPERIMENTS:
        print(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}", file=sys.stderr)
        return 2
    importlib.import_module(f"experiments.{name}").run(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
