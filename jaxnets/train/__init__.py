"""One engine: TrainState, objectives, the generic step, fit(), sweeps."""
from jaxnets.train.diagnostics import loss_gradients
from jaxnets.train.generative import ELBO, GANObjective, Reconstruction, contractive_penalty, corrupt, encoder_jacobian
from jaxnets.train.loop import (
    CONCURRENT_COMPILER_OPTIONS,
    FitConfig,
    FitProgram,
    FitResult,
    LoweredFit,
    TrainingDiverged,
    compile_fit,
    evaluate_sums,
    fit,
    lower_fit,
)
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
    PlayerOptimizers,
    make_optimizer,
    make_schedule,
    player_optimizers,
)
from jaxnets.train.predict import make_predict_fn, predict_classes, predict_logits, probabilities
from jaxnets.train.shuffle import batch_indices, chunk_orders, epoch_key
from jaxnets.train.state import (
    LoweredStates,
    TrainState,
    create_state,
    create_states,
    lower_states,
    member,
    stack,
)
from jaxnets.train.step import make_eval_step, make_train_step
from jaxnets.train.sweep import set_learning_rates, summarize

__all__ = [
    "CONCURRENT_COMPILER_OPTIONS", "FitConfig", "FitProgram", "FitResult", "LoweredFit", "TrainingDiverged",
    "compile_fit", "lower_fit", "evaluate_sums", "fit", "loss_gradients", "batch_indices", "chunk_orders", "epoch_key",
    "Augmented", "Classification", "Regression", "TokenClassification", "apply_model", "finalize_metrics",
    "ELBO", "GANObjective", "Reconstruction", "contractive_penalty", "corrupt", "encoder_jacobian",
    "OPTIMIZERS", "SCHEDULES", "PlayerOptimizers", "make_optimizer", "make_schedule", "player_optimizers",
    "LoweredStates", "TrainState", "create_state", "create_states", "lower_states", "member", "stack",
    "make_eval_step", "make_train_step",
    "make_predict_fn", "predict_classes", "predict_logits", "probabilities",
    "set_learning_rates", "summarize",
]
