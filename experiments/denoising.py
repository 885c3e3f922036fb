"""Denoising autoencoders: noisy -> clean digits, PSNR / SSIM measured.

    python -m experiments.denoising [--seeds N] [--quick]

Two corruptions of the 8x8 test digits (pixels in [0, 1]): Gaussian noise (std 0.3) and masking
noise (each pixel zeroed with probability 0.4). For each, a denoising autoencoder (MLP and small
conv) trained on that corruption of the train digits, and — to show what training with noise buys —
a plain autoencoder trained on clean digits, given the same noisy inputs. Reported on the test split:
MSE, PSNR (dB) and SSIM (7x7 windows, as scikit-image) of the noisy input and of each output, against
the clean digit. The test corruption is drawn once with a fixed key; every model sees the same one.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from experiments.standalone import finish, header, start
from experiments.unsupervised import apply_members, digit_splits, fit_seeds, train_all
from jaxnets.generative_metrics import psnr, ssim
from jaxnets.models import Autoencoder
from jaxnets.plots import image_grid
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Reconstruction, corrupt, summarize

NOISES = {"gaussian": 0.3, "masking": 0.4}


@dataclasses.dataclass(frozen=True)
class Preset:
    latent: int = 32
    hidden: tuple[int, ...] = (256,)
    conv_channels: tuple[int, ...] = (16, 32)
    epochs: int = 300
    patience: int = 25
    batch_size: int = 64
    learning_rate: float = 2e-3
    seeds: int = 5
    noises: tuple[str, ...] = tuple(NOISES)

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=5, seeds=2, noises=("masking",))


def quality(out: np.ndarray, clean: np.ndarray) -> dict:
    """Per-seed means of MSE, PSNR and SSIM. out: [seeds, n, 8, 8, 1]; clean [n, 8, 8, 1]."""
    mse = ((out - clean[None]) ** 2).mean(axis=(1, 2, 3, 4))
    p = [float(np.mean(psnr(np.clip(o, 0, 1), clean))) for o in out]
    s = [float(np.mean(ssim(np.clip(o, 0, 1), clean))) for o in out]
    return {"test_mse": summarize(mse), "test_psnr": summarize(p), "test_ssim": summarize(s)}


def run(argv=None) -> dict:
    args, preset, out = start("denoising", Preset(), argv, __doc__)
    splits = digit_splits()
    tr, va, te = ({"x": d["x"]} for d in (splits.train, splits.val, splits.test))
    clean = te["x"]
    noisy = {n: np.asarray(corrupt(jax.random.PRNGKey(123), clean, n, NOISES[n])) for n in preset.noises}

    def model_for(kind: str) -> Autoencoder:
        if kind == "conv":
            return Autoencoder(input_shape=(8, 8, 1), latent_dim=preset.latent, hidden=preset.conv_channels,
                               kind="conv", output_activation="sigmoid")
        return Autoencoder(input_shape=(8, 8, 1), latent_dim=preset.latent, hidden=preset.hidden,
                           output_activation="sigmoid")

    def job(kind: str, noise: str | None):
        def train() -> dict:
            model = model_for(kind)
            obj = Reconstruction(noise=noise or "none", noise_level=NOISES.get(noise, 0.0))
            fr = fit_seeds(model, obj, tr, va, seeds=preset.seeds, epochs=preset.epochs,
                           learning_rate=preset.learning_rate, batch_size=preset.batch_size, patience=preset.patience,
                           name=f"{kind}/{noise or 'clean'}", progress=not args.no_progress,
                           checkpoints=args.checkpoints)
            outs = {n: apply_members(model, fr.state.params, noisy[n]) for n in preset.noises if noise in (None, n)}
            return {"outputs": outs, "compile_seconds": fr.compile_seconds, "train_seconds": fr.train_seconds,
                    "epochs_run": summarize(fr.epochs_run)}
        return train

    jobs = {f"dae_{kind}_{n}": job(kind, n) for n in preset.noises for kind in ("mlp", "conv")}
    jobs["ae_mlp_clean"] = job("mlp", None)
    trained, wall = train_all(jobs, args.workers)

    models, examples = {}, {}
    for noise in preset.noises:
        models[f"{noise}/noisy_input"] = {"noise": noise, **quality(noisy[noise][None], clean)}
        for name in ("ae_mlp_clean", f"dae_mlp_{noise}", f"dae_conv_{noise}"):
            t = trained[name]
            outs = t["outputs"][noise]
            short = name.replace(f"_{noise}", "")
            models[f"{noise}/{short}"] = {"noise": noise, **quality(outs, clean),
                                          **{k: v for k, v in t.items() if k != "outputs"}}
            examples[f"{noise}/{short}"] = outs[0]
    idx = np.arange(8)
    images, titles = [clean[i] for i in idx], ["clean"] * 8
    for noise in preset.noises:
        images += [noisy[noise][i] for i in idx] + [examples[f"{noise}/dae_conv"][i] for i in idx]
        titles += [f"{noise} noisy"] * 8 + [f"{noise} -> conv DAE"] * 8
    image_grid([np.clip(im[..., 0], 0, 1) for im in images], out / "denoising_examples.png", titles=titles, ncols=8,
               title="test digits: clean, corrupted, denoised (seed 0)")

    results = {**header("denoising", args, preset), "noises": NOISES, "models": models, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["test_mse"], 4), fmt_stat(m["test_psnr"], 2), fmt_stat(m["test_ssim"], 3)]
            for n, m in models.items()]
    table = (f"**denoising** · digits test split, Gaussian std {NOISES['gaussian']}, masking p {NOISES['masking']} · "
             f"{preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["noise / model", "MSE vs clean", "PSNR dB", "SSIM"], rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
