"""Segmenter registry: pick a segmenter by name (`segmenter.name` parameter)."""

from ttm_ros.core.registry import Registry
from ttm_ros.core.segmenters.base import Segmenter, SegmenterSettings

SEGMENTERS: Registry[Segmenter] = Registry('segmenter')
SEGMENTERS.register_lazy('onnx', 'ttm_ros.core.segmenters.onnx_segmenter:OnnxSegmenter')
SEGMENTERS.register_lazy('transformers', 'ttm_ros.core.segmenters.hf_segmenter:TransformersSegmenter')


def build_segmenter(name: str, settings: SegmenterSettings) -> Segmenter:
    """Build the segmenter registered under `name` (or a `module:Class` path)."""
    return SEGMENTERS.create(name, settings)


__all__ = ['SEGMENTERS', 'Segmenter', 'SegmenterSettings', 'build_segmenter']
