"""Detector registry: pick a detector by name (`detector.name` parameter)."""

from ttm_ros.core.detectors.base import Detection, Detector, DetectorSettings
from ttm_ros.core.registry import Registry

DETECTORS: Registry[Detector] = Registry('detector')
DETECTORS.register_lazy('onnx', 'ttm_ros.core.detectors.onnx_yolox:OnnxYoloxDetector')
DETECTORS.register_lazy('transformers', 'ttm_ros.core.detectors.hf_detector:TransformersDetector')
DETECTORS.register_lazy('torchvision', 'ttm_ros.core.detectors.torchvision_detector:TorchvisionDetector')


def build_detector(name: str, settings: DetectorSettings) -> Detector:
    """Build the detector registered under `name` (or a `module:Class` path)."""
    return DETECTORS.create(name, settings)


__all__ = ['DETECTORS', 'Detection', 'Detector', 'DetectorSettings', 'build_detector']


def detector_settings(values) -> DetectorSettings:
    """Return the DetectorSettings of the `detector.*` entries of a parameter mapping."""
    fields = {field: values[f'detector.{field}'] for field in (
        'model', 'config', 'device', 'num_threads', 'score_threshold', 'nms_iou',
        'max_detections', 'class_map') if f'detector.{field}' in values}
    return DetectorSettings(**fields)


__all__ += ['detector_settings']
