"""CNN vs MLP on digits as 8×8×1 images: MLPs vs LeNet vs VGG-style vs ResNet-style.

    python -m experiments.cnn_vs_mlp [--seeds N] [--quick]

Measures the seed's claims that CNNs suit images better than fully connected nets and share
parameters efficiently: test accuracy (mean ± std over seeds), parameters, train time, predictions/s.
"""
from __future__ import annotations

from experiments.common import ModelSpec, Preset, main
from jaxnets.models import VGG, LeNet5, ResNet
from jaxnets.plots import scatter_labeled
from jaxnets.report import markdown_table

SPECS = [
    ModelSpec("mlp", (128, 64, 10), "relu"),  # the seed's digits MLP, on the same [0, 1] pixels
    ModelSpec("mlp_wide", (256, 128, 10), "relu"),
    ModelSpec("lenet", module=LeNet5()),
    ModelSpec("vgg", module=VGG(stages=((16, 16), (32, 32)))),
    ModelSpec("resnet_small", module=ResNet(stage_features=(8, 16), blocks_per_stage=2)),
    ModelSpec("resnet", module=ResNet(stage_features=(16, 32), blocks_per_stage=2)),
]

PRESETS = {
    # 80/20 stratified split (random_state=42), 10 % of the training part for validation, Adam,
    # early stopping on validation loss with best-weights restore. The same recipe for every model.
    "default": Preset(dataset="digits_images", optimizer="adam", learning_rate=1e-3, epochs=100, batch_size=32,
                      val_size=0.1, val_from="train", patience=20),
}


def claims(results: dict) -> dict:
    """The issue's target, computed from the results: the best CNN's accuracy, and the smallest CNN
    that is at least as accurate (mean) as the best MLP."""
    models = results["models"]
    acc = {n: m["test_accuracy"]["mean"] for n, m in models.items()}
    mlps = [n for n in models if "mlp" in n]
    cnns = [n for n in models if "mlp" not in n]
    best_mlp = max(mlps, key=acc.get)
    best_cnn = max(cnns, key=acc.get)
    as_good = [n for n in cnns if acc[n] >= acc[best_mlp]]
    smallest = min(as_good, key=lambda n: models[n]["parameters"]) if as_good else None
    return {
        "best_mlp": best_mlp, "best_mlp_accuracy": acc[best_mlp], "best_mlp_parameters": models[best_mlp]["parameters"],
        "best_cnn": best_cnn, "best_cnn_accuracy": acc[best_cnn], "best_cnn_at_least_0.985": acc[best_cnn] >= 0.985,
        "smallest_cnn_as_accurate_as_best_mlp": smallest,
        "its_parameters": None if smallest is None else models[smallest]["parameters"],
        "fewer_parameters_than_best_mlp": smallest is not None
        and models[smallest]["parameters"] < models[best_mlp]["parameters"],
    }


def _after(results, trained, splits, out):
    c = results["claims"] = claims(results)
    pts = {n: (m["parameters"], m["test_accuracy"]["mean"], m["test_accuracy"]["std"])
           for n, m in results["models"].items()}
    scatter_labeled(pts, out / "accuracy_vs_parameters.png", xlabel="parameters", ylabel="test accuracy",
                    title="digits 8×8: accuracy vs parameters (mean ± std over seeds)", logx=True)
    rows = [[k, v] for k, v in c.items()]
    (out / "claims.md").write_text(markdown_table(["claim", "measured"], rows))


def run(argv=None) -> dict:
    return main("cnn_vs_mlp", PRESETS, SPECS, argv, after=_after, thresholds={"best CNN target 0.985": 0.985})


if __name__ == "__main__":
    run()
