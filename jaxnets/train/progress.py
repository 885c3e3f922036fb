"""Progress of one fit: a tqdm bar on a terminal; elsewhere (logs, CI, notebooks, pipes) a plain line
at every quarter of the epochs. Either way a last line says where each member stopped."""
from __future__ import annotations

import sys

import numpy as np
from tqdm.auto import tqdm


class Progress:
    """update(...) after each chunk of epochs; close(best_epoch, epochs_run) at the end. stream:
    where it writes (default stderr, as tqdm does); a bar only when that is a terminal."""

    def __init__(self, name: str, epochs: int, start: int, enabled: bool, position: int = 0, stream=None):
        self.name, self.epochs, self.enabled = name, epochs, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.bar = None
        self.next_line = start + _quarter(epochs)
        if enabled and _is_terminal(self.stream):
            self.bar = tqdm(total=epochs, initial=start, desc=name, position=position, leave=False,
                            dynamic_ncols=True, file=self.stream)

    def update(self, epoch: int, n_new: int, train_loss: np.ndarray, val_loss: np.ndarray | None) -> None:
        """train_loss / val_loss: [members] mean losses of the chunk's last epoch (NaN: stopped)."""
        if self.bar is not None:
            self.bar.update(n_new)
        elif self.enabled and (epoch >= self.next_line or epoch == self.epochs):
            self.next_line = epoch + _quarter(self.epochs)
            val = "" if val_loss is None else f"  val_loss {_mean(val_loss)}"
            self._line(f"{self.name}: epoch {epoch}/{self.epochs}  train_loss {_mean(train_loss)}{val}")

    def close(self, best_epoch: np.ndarray | None = None, epochs_run: np.ndarray | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
        if not self.enabled or epochs_run is None:
            return
        self._line(f"{self.name}: {stop_summary(self.epochs, best_epoch, epochs_run)}")

    def _line(self, text: str) -> None:
        if self.bar is not None:
            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)


def stop_summary(epochs: int, best_epoch, epochs_run) -> str:
    """'stopped at epoch 72 (best 52)' for a member that stopped early, 'ran all 100 epochs (best 98)'
    for one that did not; epochs count from 1, best_epoch from 0 (-1: none monitored)."""
    parts = []
    for ran, best in zip(np.asarray(epochs_run).tolist(), np.asarray(best_epoch).tolist()):
        best_text = f" (best {best + 1})" if best >= 0 else ""  # -1: nothing monitored
        parts.append(f"stopped at epoch {ran}{best_text}" if ran < epochs else f"ran all {epochs} epochs{best_text}")
    if len(set(parts)) == 1:
        return parts[0] + ("" if len(parts) == 1 else f" [all {len(parts)} members]")
    return "; ".join(f"member {i}: {p}" for i, p in enumerate(parts))


def _quarter(epochs: int) -> int:
    return max(1, -(-epochs // 4))


def _mean(v: np.ndarray) -> str:
    v = np.asarray(v, np.float64)
    return f"{np.nanmean(v):.4f}" if np.isfinite(v).any() else "–"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
