"""The TTM node: camera frames in; pseudo-source image, masks and diagnostics out.

Its topics are listed in `ttm_ros.topics` (and docs/reference.md): it subscribes to
the camera and publishes the pseudo-source image, the fused mask, colour mask, overlay,
optional per-mode masks and timings, the class names and /diagnostics.

Every per-frame output carries the input header unchanged and the input's height and
width. Scheduling, QoS, bad frames and diagnostics are handled by `FrameNode`.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_srvs.srv import SetBool
from std_msgs.msg import String

from ttm_ros import topics
from ttm_ros.core import labels
from ttm_ros.core.parameters import NODE_PARAMETERS, settings_from_values
from ttm_ros.core.pipeline import FrameResult, TTMPipeline, build_pipeline
from ttm_ros.core.prompts import describe_prompt_value, resolve_prompt
from ttm_ros.ros import qos
from ttm_ros.ros.frame_node import FrameNode, ManagedFrameNode, run_node, timing_message
from ttm_ros.ros.image_msgs import mono_to_image_msg, rgb_to_image_msg

NODE_NAME = 'ttm_node'


class TTMProcessing:
    """The TTM hooks of a frame node: load the pipeline, publish its results.

    Mixed into `TTMNode` (plain) and `ManagedTTMNode` (lifecycle), which differ only in
    when the frame-node steps run.
    """

    pipeline_name = 'ttm pipeline'

    def load_models(self) -> None:
        if not hasattr(self, 'bypass_service'):
            self.bypass_service = self.create_service(SetBool, '~/set_bypass', self._on_set_bypass)
        settings = settings_from_values(self.values)
        self.get_logger().info(f'loading translator {settings.translator_name!r} and segmenter '
                               f'{settings.segmenter_name!r}')
        self.pipeline: TTMPipeline = build_pipeline(settings)
        self.pipeline.bypass = self.values['bypass_translation']
        self.get_logger().info(f'translator: {self.pipeline.translator.describe()}')
        self.get_logger().info(f'source prompt: {describe_prompt_value(self.values["translator.prompt"])}')
        self.get_logger().info(f'segmenter: {self.pipeline.segmenter.describe()}')

    def create_outputs(self) -> None:
        publisher = self.create_output_publisher
        self.pub_translated = publisher(Image, topics.PSEUDO_SOURCE)
        self.pub_mask = publisher(Image, topics.MASK)
        self.pub_color = publisher(Image, topics.COLOR_MASK) if self.values['output.color_mask'] else None
        self.pub_overlay = publisher(Image, topics.OVERLAY) if self.values['output.overlay'] else None
        self.pub_mask_base = self.pub_mask_translated = self.pub_timing = None
        if self.values['output.all_masks']:
            self.pub_mask_base = publisher(Image, topics.MASK_BASE)
            self.pub_mask_translated = publisher(Image, topics.MASK_TRANSLATED)
            self.pub_timing = publisher(DiagnosticArray, topics.TIMING)
        self.pub_class_names = self.create_publisher(String, topics.CLASS_NAMES, qos.latched_qos())
        self.pub_class_names.publish(String(data='\n'.join(self.pipeline.segmenter.class_names)))

    def process_frame(self, header, rgb: np.ndarray) -> Dict[str, float]:
        result = self.pipeline.process(rgb, all_masks=self.pub_mask_base is not None)
        start = time.perf_counter()
        self._publish_result(header, rgb, result)
        self._fallback = result.fallback_reason
        if result.fallback_reason is not None:
            self.get_logger().warning(
                f'translation rejected for frame frame_id={header.frame_id!r} '
                f'stamp={header.stamp.sec}.{header.stamp.nanosec:09d} ({result.fallback_reason}); '
                'used the original frame', throttle_duration_sec=self.values['log_throttle'])
        return {**result.timings_ms, 'publish': (time.perf_counter() - start) * 1000.0}

    def frame_done(self, header, timings_ms: Dict[str, float]) -> None:
        if self.pub_timing is not None:
            self.pub_timing.publish(timing_message(header, timings_ms, self._fallback))

    def frame_failed(self, header, reason: str) -> None:
        # In evaluation the timing topic accounts for every frame, failed ones included.
        if getattr(self, 'pub_timing', None) is not None:
            self.pub_timing.publish(timing_message(header, {}, f'failed: {reason}',
                                                   DiagnosticStatus.ERROR))

    def apply_parameter(self, name: str, value: Any) -> None:
        if name == 'fusion.weight':
            self.pipeline.weight = float(value)
        elif name == 'bypass_translation':
            self.pipeline.bypass = bool(value)
            self.get_logger().info(f'translation {"bypassed" if value else "enabled"}')
        elif name == 'translator.prompt':
            # Encoding a new prompt can load a text encoder; no frame may use the
            # translator meanwhile, so this waits for the frame in progress.
            with self.model_lock:
                self.pipeline.translator.set_prompt(resolve_prompt(value))
            self.get_logger().info(f'translator prompt changed to {describe_prompt_value(value)}; '
                                   'new frames use it')

    def extra_diagnostics(self) -> Dict[str, float]:
        return {'fallbacks': self.pipeline.fallbacks}

    def close_models(self) -> None:
        if hasattr(self, 'pipeline'):
            self.pipeline.close()

    def _publish_result(self, header, rgb: np.ndarray, result: FrameResult) -> None:
        self.pub_translated.publish(rgb_to_image_msg(result.translated, header))
        self.pub_mask.publish(mono_to_image_msg(result.mask_fused, header))
        if self.pub_color is not None or self.pub_overlay is not None:
            colors = labels.train_ids_to_color(result.mask_fused)
            if self.pub_color is not None:
                self.pub_color.publish(rgb_to_image_msg(colors, header))
            if self.pub_overlay is not None:
                overlay = labels.overlay(rgb, result.mask_fused, alpha=self.values['output.overlay_alpha'])
                self.pub_overlay.publish(rgb_to_image_msg(overlay, header))
        if self.pub_mask_base is not None:
            self.pub_mask_base.publish(mono_to_image_msg(result.mask_base, header))
            self.pub_mask_translated.publish(mono_to_image_msg(result.mask_translated, header))


    def _on_set_bypass(self, request, response):
        """Set `bypass_translation` through the parameter, so both stay in agreement."""
        result = self.set_parameters([Parameter('bypass_translation', value=request.data)])[0]
        response.success = result.successful
        response.message = (f'translation {"bypassed" if request.data else "enabled"}'
                            if result.successful else result.reason)
        return response


class TTMNode(TTMProcessing, FrameNode):
    """The TTM node (see the module docstring for topics)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, NODE_PARAMETERS, **kwargs)


class ManagedTTMNode(TTMProcessing, ManagedFrameNode):
    """The TTM node as a lifecycle node: models load on configure and free on cleanup."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, NODE_PARAMETERS, **kwargs)


def main(args: Optional[List[str]] = None) -> int:
    """Run the TTM node until shutdown; return 1 when its configuration is invalid."""
    return run_node(TTMNode, NODE_NAME, args)


def main_managed(args: Optional[List[str]] = None) -> int:
    """Run the managed TTM node; it waits unconfigured for lifecycle transitions."""
    return run_node(ManagedTTMNode, NODE_NAME, args)


if __name__ == '__main__':
    raise SystemExit(main())
