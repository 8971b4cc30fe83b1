"""The TTM node: camera frames in; pseudo-source image, masks and diagnostics out.

Its topics are listed in `ttm_ros.topics` (and docs/reference.md): it subscribes to
the camera and publishes the pseudo-source image, the fused mask, colour mask, overlay,
optional per-mode masks and timings, the class names and /diagnostics.

Every per-frame output carries the input header unchanged and the input's height and
width. Scheduling, QoS, bad frames and diagnostics are handled by `FrameNode`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
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
from ttm_ros.ros.frame_node import (CameraInput, FrameNode, ManagedFrameNode, frame_ids, run_node,
                                    timing_message)
from ttm_ros.ros.image_msgs import mono_to_image_msg, rgb_to_image_msg

NODE_NAME = 'ttm_node'


@dataclasses.dataclass
class TTMOutputs:
    """The publishers of one camera (None where a parameter turns the output off)."""

    translated: Any
    mask: Any
    color: Any
    overlay: Any
    mask_base: Any
    mask_translated: Any
    timing: Any
    #: The fallback reason of the camera's last frame, for its timing message.
    fallback: Optional[str] = None


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

    def create_outputs(self, camera: CameraInput) -> 'TTMOutputs':
        if not hasattr(self, 'pub_class_names'):
            # One latched list for every camera: all use the same segmenter.
            self.pub_class_names = self.create_publisher(String, topics.CLASS_NAMES, qos.latched_qos())
        self.pub_class_names.publish(String(data='\n'.join(self.pipeline.segmenter.class_names)))

        def publisher(msg_type, topic: str, wanted: bool = True):
            return self.create_output_publisher(msg_type, topic, camera) if wanted else None

        all_masks = self.values['output.all_masks']
        return TTMOutputs(
            translated=publisher(Image, topics.PSEUDO_SOURCE),
            mask=publisher(Image, topics.MASK),
            color=publisher(Image, topics.COLOR_MASK, self.values['output.color_mask']),
            overlay=publisher(Image, topics.OVERLAY, self.values['output.overlay']),
            mask_base=publisher(Image, topics.MASK_BASE, all_masks),
            mask_translated=publisher(Image, topics.MASK_TRANSLATED, all_masks),
            timing=publisher(DiagnosticArray, topics.TIMING, self.values['output.timing']))

    def process_frame(self, camera: CameraInput, header, rgb: np.ndarray) -> Dict[str, float]:
        result = self.pipeline.process(rgb, all_masks=camera.outputs.mask_base is not None)
        return self._publish_result(camera, header, rgb, result)

    def process_frames(self, frames: List[Tuple[CameraInput, Any, np.ndarray]]) -> List[Any]:
        if len(frames) == 1:
            return super().process_frames(frames)
        all_masks = frames[0][0].outputs.mask_base is not None
        results = self.pipeline.process_batch([rgb for _, _, rgb in frames], all_masks=all_masks)
        timings: List[Any] = []
        for (camera, header, rgb), result in zip(frames, results):
            if isinstance(result, Exception):
                timings.append(result)
                continue
            try:
                timings.append(self._publish_result(camera, header, rgb, result))
            except Exception as error:  # noqa: BLE001 - reported for this frame only.
                timings.append(error)
        return timings

    def timing_publisher(self, camera: CameraInput) -> Optional[Any]:
        return camera.outputs.timing if camera.outputs is not None else None

    def frame_done(self, camera: CameraInput, header, timings_ms: Dict[str, float]) -> None:
        # The message names the translation fallback of the frame, if there was one.
        if camera.outputs.timing is not None:
            camera.outputs.timing.publish(timing_message(header, timings_ms, camera.outputs.fallback))

    def apply_parameter(self, name: str, value: Any) -> None:
        if name == 'fusion.weight':
            self.pipeline.weight = float(value)
        elif name == 'bypass_translation':
            self.pipeline.bypass = bool(value)
            self.get_logger().info(f'translation {"bypassed" if value else "enabled"}')
        elif name == 'translator.prompt':
            # Encoding a new prompt can load a text encoder; no frame may use the
            # translator meanwhile, so this waits for the frame in progress.
            translator = self.pipeline.translator
            with self.model_lock:
                translator.set_prompt(resolve_prompt(value))
            use = 'new frames use it' if translator.uses_prompt else \
                f'translator {translator.name!r} uses no prompt, so frames do not change'
            self.get_logger().info(f'translator prompt changed to {describe_prompt_value(value)}; {use}')

    def extra_diagnostics(self) -> Dict[str, float]:
        return {'fallbacks': self.pipeline.fallbacks}

    def close_models(self) -> None:
        if hasattr(self, 'pipeline'):
            self.pipeline.close()

    def _publish_result(self, camera: CameraInput, header, rgb: np.ndarray,
                        result: FrameResult) -> Dict[str, float]:
        """Publish one frame's outputs; return its stage times with the publish time."""
        start = time.perf_counter()
        outputs = camera.outputs
        outputs.fallback = result.fallback_reason
        if result.fallback_reason is not None:
            self.get_logger().warning(
                f'translation rejected for frame{camera.label} {frame_ids(header)} '
                f'({result.fallback_reason}); used the original frame',
                throttle_duration_sec=self.values['log_throttle'])
        outputs.translated.publish(rgb_to_image_msg(result.translated, header))
        outputs.mask.publish(mono_to_image_msg(result.mask_fused, header))
        if outputs.color is not None or outputs.overlay is not None:
            colors = labels.train_ids_to_color(result.mask_fused)
            if outputs.color is not None:
                outputs.color.publish(rgb_to_image_msg(colors, header))
            if outputs.overlay is not None:
                overlay = labels.overlay(rgb, result.mask_fused, alpha=self.values['output.overlay_alpha'])
                outputs.overlay.publish(rgb_to_image_msg(overlay, header))
        if outputs.mask_base is not None:
            outputs.mask_base.publish(mono_to_image_msg(result.mask_base, header))
            outputs.mask_translated.publish(mono_to_image_msg(result.mask_translated, header))
        return {**result.timings_ms, 'publish': (time.perf_counter() - start) * 1000.0}

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
