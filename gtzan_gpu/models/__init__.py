"""Backbones (SmallCNN, ResNet18Classifier, LateFusion) and the raw-audio GenreClassifier around them."""
from gtzan_gpu.models.classifier import GenreClassifier, build_classifier
from gtzan_gpu.models.cnn import SmallCNN
from gtzan_gpu.models.fusion import LateFusion
from gtzan_gpu.models.resnet import ResNet18Classifier, hub_cache_file, resnet18_trunk

__all__ = ["GenreClassifier", "build_classifier", "SmallCNN", "LateFusion", "ResNet18Classifier",
           "hub_cache_file", "resnet18_trunk"]
