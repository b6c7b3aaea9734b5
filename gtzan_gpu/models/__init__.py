"""Backbones (SmallCNN, CNN10, ResNet18Classifier, LateFusion, ShortChunkResNet), the model registry, the raw-audio GenreClassifier and
Grad-CAM over its spectrogram image."""
from gtzan_gpu.models.classifier import GenreClassifier, build_classifier
from gtzan_gpu.models.cnn import SmallCNN
from gtzan_gpu.models.cnn10 import CNN10
from gtzan_gpu.models.fusion import LateFusion
from gtzan_gpu.models.registry import (MODEL_NAMES, MODELS, ModelConfig, ModelSpec, get_model_spec, model_names,
                                      register_model)
from gtzan_gpu.models.resnet import ResNet18Classifier, resnet18_trunk
from gtzan_gpu.models.saliency import GradCam, grad_cam
from gtzan_gpu.models.weights import hub_cache_file

__all__ = ["GenreClassifier", "build_classifier", "SmallCNN", "CNN10", "LateFusion", "ResNet18Classifier", "MODELS",
           "MODEL_NAMES", "ModelConfig", "ModelSpec", "get_model_spec", "model_names", "register_model", "hub_cache_file",
           "resnet18_trunk",
           "GradCam", "grad_cam"]
