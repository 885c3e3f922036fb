"""Matplotlib figures written to files. Built on `matplotlib.figure.Figure` (no pyplot state, no
backend switched): importing this module changes nothing, and notebooks keep their inline plots."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def _subplots(nrows: int = 1, ncols: int = 1, figsize=(6, 3.8), squeeze: bool = True):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def learning_curves(histories: dict[str, dict[str, np.ndarray]], path: str | Path, title: str = "") -> Path:
    """histories: model -> {"train_loss": [members, epochs], "val_loss": …, "train_accuracy", "val_accuracy"}
    (NaN after a member stopped). One faint line per seed, ending with a dot where that seed stopped
    early; the bold line is the mean over seeds, drawn only while every seed still trains."""
    keys = [k for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
            if any(k in h and np.isfinite(h[k]).any() for h in histories.values())]
    fig, axes = _subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, h in histories.items():
            if key not in h:
                continue
            v = np.atleast_2d(np.asarray(h[key], dtype=float))
            x = np.arange(1, v.shape[1] + 1)
            (line,) = ax.plot(x, v.mean(axis=0), label=name, lw=1.6)  # NaN (not drawn) once any seed stopped
            for seed in v:
                ran = np.flatnonzero(np.isfinite(seed))
                ax.plot(x, seed, color=line.get_color(), alpha=0.25, lw=0.7)
                if len(ran) and ran[-1] < len(seed) - 1:
                    ax.plot(x[ran[-1]], seed[ran[-1]], "o", ms=2.5, color=line.get_color(), alpha=0.6)
        ax.set_xlabel("epoch")
        ax.set_title(key.replace("_", " ") + f" ({v.shape[0]} seeds)")
        if "loss" in key:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def metric_bars(results: dict, key: str, path: str | Path, title: str = "",
                thresholds: dict[str, float] | None = None) -> Path:
    """models[*][key]: each seed's value (dots) and the mean ± std over seeds (diamond and error bar),
    on an axis zoomed to the values: there are no bars, whose length would then mislead.
    thresholds: label -> value, drawn as dashed lines (a claim's target)."""
    names = list(results["models"])
    fig, ax = _subplots(figsize=(1.3 * len(names) + 2, 3.6))
    for i, n in enumerate(names):
        stat = results["models"][n][key]
        pts = np.asarray(stat["per_seed"], dtype=float)
        offsets = np.linspace(-0.12, 0.12, len(pts)) if len(pts) > 1 else np.zeros(1)
        ax.scatter(i + offsets, pts, s=12, color="0.35", zorder=3, label="seeds" if i == 0 else None)
        ax.errorbar(i + 0.28, stat["mean"], yerr=stat["std"], fmt="D", ms=5, capsize=4, color="C0",
                    label="mean ± std" if i == 0 else None)
    for label, value in (thresholds or {}).items():
        ax.axhline(value, ls="--", lw=1, color="C3")
        ax.annotate(label, (len(names) - 0.5, value), ha="right", va="bottom", fontsize=8, color="C3")
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 4 else 0)
    n_seeds = len(results["models"][names[0]][key]["per_seed"])
    ax.set_ylabel(f"{key.replace('_', ' ')}\n(std over {n_seeds} seeds)")
    ax.set_title(title or key)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def line_plot(x, series: dict[str, np.ndarray], path: str | Path, *, xlabel: str, ylabel: str,
              title: str = "", logy: bool = False, logx: bool = False) -> Path:
    """series: name -> values [seeds, len(x)]; lines are the mean, bands the min–max over seeds."""
    fig, ax = _subplots(figsize=(6, 3.8))
    for name, v in series.items():
        v = np.atleast_2d(np.asarray(v, dtype=float))
        (line,) = ax.plot(x, v.mean(0), marker="o", ms=3, lw=1.4, label=name)
        ax.fill_between(x, v.min(0), v.max(0), color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def image_grid(images, path: str | Path, *, titles=None, ncols: int = 8, title: str = "",
               cmap: str = "gray", symmetric: bool = False, cell_inches: float = 1.6) -> Path:
    """images: [n, H, W] (one colour map each, scaled per image) or [n, H, W, 3] (RGB in [0, 1]).
    symmetric: centre each grey image's colour scale on 0 (for kernels and edge responses);
    cell_inches: size of each panel (large for a single mosaic)."""
    images = [np.asarray(im, dtype=float) for im in images]  # sizes may differ
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    size = (cell_inches * ncols, (cell_inches + 0.1) * nrows + (0.4 if title else 0))
    fig, axes = _subplots(nrows, ncols, figsize=size, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.ndim == 3:
            ax.imshow(np.clip(img, 0, 1))
        else:
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu_r" if symmetric else cmap,
                      vmin=-lim if symmetric else None, vmax=lim if symmetric else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def scatter_labeled(points: dict[str, tuple[float, float, float]], path: str | Path, *, xlabel: str,
                    ylabel: str, title: str = "", logx: bool = False) -> Path:
    """points: name -> (x, y mean, y std); each point is labelled with its name."""
    fig, ax = _subplots(figsize=(6, 3.8))
    for name, (x, y, s) in points.items():
        ax.errorbar([x], [y], yerr=[s], fmt="o", capsize=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def scatter_classes(points, labels, path: str | Path, *, title: str = "", xlabel: str = "z1",
                    ylabel: str = "z2") -> Path:
    """points: [n, 2] (e.g. 2-D latent codes) coloured by integer labels [n], one legend entry per class."""
    points, labels = np.asarray(points, dtype=float), np.asarray(labels)
    fig, ax = _subplots(figsize=(5.2, 4.6))
    cmap = matplotlib.colormaps["tab10"]
    for i, c in enumerate(np.unique(labels)):
        sel = labels == c
        ax.scatter(points[sel, 0], points[sel, 1], s=6, color=cmap(i % 10), label=str(c), alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, markerscale=2, ncol=2, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def heatmaps(maps: dict[str, np.ndarray], path: str | Path, *, xlabels=None, ylabels=None, title: str = "",
             xlabel: str = "key", ylabel: str = "query") -> Path:
    """One panel per entry: name -> matrix [rows, cols] (e.g. attention weights, rows summing to 1)."""
    fig, axes = _subplots(1, len(maps), figsize=(3.4 * len(maps) + 0.6, 3.4), squeeze=False)
    for ax, (name, m) in zip(axes[0], maps.items()):
        m = np.asarray(m, dtype=float)
        im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=max(float(m.max()), 1e-9))
        if xlabels is not None:
            ax.set_xticks(range(m.shape[1]), xlabels, rotation=60, fontsize=7)
        if ylabels is not None:
            ax.set_yticks(range(m.shape[0]), ylabels, fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


DIAGNOSTIC_PANELS = (("grad_norm/", "gradient norm ‖∂L/∂W‖", True), ("update_ratio/", "update / parameter norm", True),
                     ("act_std/", "activation std", False), ("dead_fraction/", "dead units (fraction)", False))


def diagnostics(history: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """`FitResult.history` of a fit with FitConfig(diagnostics=True): per epoch, the gradient norm and
    update/parameter ratio of every kernel, and the activation std and dead-unit fraction of every
    recorded layer; one line per layer, the mean over members (NaN epochs skipped)."""
    panels = [(prefix, label, logy) for prefix, label, logy in DIAGNOSTIC_PANELS
              if any(k.startswith(prefix) for k in history)]
    if not panels:
        raise ValueError("history has no diagnostics: train with FitConfig(diagnostics=True)")
    fig, axes = _subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (prefix, label, logy) in zip(axes[0], panels):
        for key, v in history.items():
            if not key.startswith(prefix) or key.endswith("/bias"):
                continue
            v = np.atleast_2d(np.asarray(v, dtype=float))
            ax.plot(np.arange(1, v.shape[1] + 1), np.nanmean(v, axis=0), lw=1.4,
                    label=key.removeprefix(prefix).removesuffix("/kernel"))
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
