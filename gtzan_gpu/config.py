"""The run configuration dataclasses in one import: ``FeatureConfig`` (features/), ``ModelConfig`` and the
model registry (models/), ``TrainConfig`` (training/). Each lives beside the code it configures."""
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.models.registry import MODEL_NAMES, MODELS, ModelConfig, get_model_spec
from gtzan_gpu.training.config import TrainConfig

__all__ = ["FeatureConfig", "ModelConfig", "TrainConfig", "MODELS", "MODEL_NAMES", "get_model_spec"]
