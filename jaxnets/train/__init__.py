"""One engine: TrainState, objectives, the generic step, the compiled epoch program, fit(), sweeps."""
from jaxnets.train.compile import FitProgram
from jaxnets.train.diagnostics import loss_gradients
from jaxnets.train.epoch import evaluate_sums
from jaxnets.train.fit import FitConfig, FitResult, TrainingDiverged, compile_fit, fit
from jaxnets.train.generative import ELBO, GANObjective, Reconstruction, contractive_penalty, corrupt, encoder_jacobian
from jaxnets.train.objectives import (
    Augmented,
    Classification,
    Regression,
    TokenClassification,
    apply_model,
    finalize_metrics,
)
from jaxnets.train.optim import (
    OPTIMIZERS,
    SCHEDULES,
    Plateau,
    PlayerOptimizers,
    decay_mask,
    make_optimizer,
    make_schedule,
    player_optimizers,
)
from jaxnets.train.predict import make_predict_fn, predict, predict_classes, predict_logits, probabilities
from jaxnets.train.shuffle import batch_indices, epoch_key
from jaxnets.train.state import TrainState, create_state, create_states, member, stack
from jaxnets.train.step import make_eval_step, make_train_step
from jaxnets.train.sweep import (
    SweepResult,
    evaluate,
    optimizer_settings,
    set_hyperparams,
    set_learning_rates,
    summarize,
    sweep,
)

__all__ = [
    "FitConfig", "FitProgram", "FitResult", "TrainingDiverged", "fit", "compile_fit", "evaluate_sums",
    "loss_gradients", "batch_indices", "epoch_key",
    "Augmented", "Classification", "Regression", "TokenClassification", "apply_model", "finalize_metrics",
    "ELBO", "GANObjective", "Reconstruction", "contractive_penalty", "corrupt", "encoder_jacobian",
    "OPTIMIZERS", "SCHEDULES", "Plateau", "decay_mask", "PlayerOptimizers", "make_optimizer", "make_schedule",
    "player_optimizers",
    "TrainState", "create_state", "create_states", "member", "stack",
    "make_eval_step", "make_train_step",
    "make_predict_fn", "predict", "predict_classes", "predict_logits", "probabilities",
    "SweepResult", "evaluate", "optimizer_settings", "set_hyperparams", "set_learning_rates", "summarize", "sweep",
]
