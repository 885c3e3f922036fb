"""Every claim of the source text the report checks, by chapter; `experiments.report` decides each
from its experiment's newest results.json."""
from experiments.claims.base import Claim, Finding
from experiments.claims.cnn import CLAIMS as CNN
from experiments.claims.generative import CLAIMS as GENERATIVE
from experiments.claims.mlp import CLAIMS as MLP
from experiments.claims.sequences import CLAIMS as SEQUENCES

CLAIMS: list[Claim] = [*MLP, *CNN, *SEQUENCES, *GENERATIVE]

__all__ = ["CLAIMS", "Claim", "Finding"]
