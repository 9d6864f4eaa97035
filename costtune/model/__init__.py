"""The LLM cost model: pretraining, LoRA training, scoring, evaluation.

    from costtune.model import CostModel, DEFAULT_MODEL_DIR
    model = CostModel.from_pretrained(DEFAULT_MODEL_DIR)
    costs = model.score([functions_a, functions_b])   # lower = predicted faster
    order = model.rank([functions_a, functions_b])

Heavy dependencies (torch, transformers, peft) load on first use of the training and
scoring functions, not on import of this package.
"""

from costtune.model.config import CostModelConfig, PretrainConfig, TrainConfig
from costtune.model.costmodel import CostModel, default_model_dir, resolve_model_dir

DEFAULT_MODEL_DIR = default_model_dir()


def pretrain(*args, **kwargs):
    from costtune.model.pretrain import pretrain as _p

    return _p(*args, **kwargs)


def train(*args, **kwargs):
    from costtune.model.train import train as _t

    return _t(*args, **kwargs)


__all__ = ["CostModel", "DEFAULT_MODEL_DIR", "PretrainConfig", "TrainConfig", "CostModelConfig", "resolve_model_dir",
           "pretrain", "train"]
