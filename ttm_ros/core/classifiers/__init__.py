"""Classifier registry: pick an image classifier by name (`onnx`, `transformers`)."""

from ttm_ros.core.classifiers.base import Classifier, ClassifierSettings
from ttm_ros.core.registry import Registry

CLASSIFIERS: Registry[Classifier] = Registry('classifier')
CLASSIFIERS.register_lazy('onnx', 'ttm_ros.core.classifiers.onnx_classifier:OnnxClassifier')
CLASSIFIERS.register_lazy('transformers', 'ttm_ros.core.classifiers.hf_classifier:TransformersClassifier')


def build_classifier(name: str, settings: ClassifierSettings) -> Classifier:
    """Build the classifier registered under `name` (or a `module:Class` path)."""
    return CLASSIFIERS.create(name, settings)


__all__ = ['CLASSIFIERS', 'Classifier', 'ClassifierSettings', 'build_classifier']
