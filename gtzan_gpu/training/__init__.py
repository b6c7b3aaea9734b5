"""Training engine, evaluation, prediction, checkpoints, metrics and TensorBoard logging."""
from gtzan_gpu.training.engine import fit
from gtzan_gpu.training.evaluate import evaluate_run
from gtzan_gpu.training.predict import predict_files

__all__ = ["fit", "evaluate_run", "predict_files"]
