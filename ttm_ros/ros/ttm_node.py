"""The TTM node: camera frames in; pseudo-source image, masks and diagnostics out.

Its topics are listed in `ttm_ros.topics` (and docs/reference.md): it subscribes to
the camera and publishes the pseudo-source image, the fused mask, colour mask, overlay,
optional per-mode masks and timings, the class names and /diagnostics.

Every per-frame output carries the input header unchanged and the input's height and
width. The subscription callback only stores the frame; one worker thread processes
the newest frame whenever it is free (every frame, in order, in evaluation mode).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from ttm_ros.core import labels
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.frame_slot import FrameSlot
from ttm_ros.core.parameters import NODE_PARAMETERS, ParameterSpec, settings_from_values, validate
from ttm_ros.core.pipeline import FrameResult, TTMPipeline, build_pipeline
from ttm_ros.core.stats import StageStats
from ttm_ros import topics
from ttm_ros.ros import qos
from ttm_ros.ros.shutdown import raise_keyboard_interrupt_on_signals
from ttm_ros.ros.image_msgs import image_from_msg, mono_to_image_msg, rgb_to_image_msg

NODE_NAME = 'ttm_node'


class TTMNode(Node):
    """ROS shell around `TTMPipeline` (see the module docstring for topics)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self._declare_parameters()
        self.settings = settings_from_values(
            {spec.name: self.get_parameter(spec.name).value for spec in NODE_PARAMETERS})

        # 1. Models: a missing model or bad file raises ConfigurationError here.
        self.get_logger().info(
            f'loading translator {self.settings.translator_name!r} and segmenter '
            f'{self.settings.segmenter_name!r}')
        self.pipeline: TTMPipeline = build_pipeline(self.settings)
        self.get_logger().info(f'translator: {self.pipeline.translator.describe()}')
        self.get_logger().info(f'segmenter: {self.pipeline.segmenter.describe()}')
        self._pipeline_lock = threading.Lock()

        # 2. Counters and the hand-over slot.
        self.slot = FrameSlot(keep_all=self.settings['evaluation_mode'])
        self.stats = StageStats()
        self.processed = 0
        self.failed = 0
        self._first_frame_logged = False
        self._last_report = (time.monotonic(), 0, 0, 0, 0)

        # 3. Publishers, then the subscription, so no frame arrives before they exist.
        self._create_publishers()
        self._create_subscription()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.settings['diagnostics.period'], self._publish_diagnostics)

        # 4. The worker that runs the models.
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name='ttm_worker', daemon=True)
        self._worker.start()
        mode = 'evaluation (every frame)' if self.slot.keep_all else 'live (newest frame)'
        self.get_logger().info(f'ready in {mode} mode, listening on {self._input_topic}')

    # ----------------------------------------------------------------- set-up
    def _declare_parameters(self) -> None:
        for spec in NODE_PARAMETERS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))

    def _create_publishers(self) -> None:
        depth = self.settings['output.qos.depth']
        profile = qos.output_qos(depth)

        def publisher(msg_type, topic: str):
            return self.create_publisher(msg_type, topic, profile,
                                         event_callbacks=qos.publisher_events(self.get_logger(), topic))

        self.pub_translated = publisher(Image, topics.PSEUDO_SOURCE)
        self.pub_mask = publisher(Image, topics.MASK)
        self.pub_color = publisher(Image, topics.COLOR_MASK) \
            if self.settings['output.color_mask'] else None
        self.pub_overlay = publisher(Image, topics.OVERLAY) \
            if self.settings['output.overlay'] else None
        self.pub_mask_base = self.pub_mask_translated = self.pub_timing = None
        if self.settings['output.all_masks']:
            self.pub_mask_base = publisher(Image, topics.MASK_BASE)
            self.pub_mask_translated = publisher(Image, topics.MASK_TRANSLATED)
            self.pub_timing = publisher(DiagnosticArray, topics.TIMING)
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, profile)
        self.pub_class_names = self.create_publisher(
            String, topics.CLASS_NAMES, qos.latched_qos())
        self.pub_class_names.publish(String(data='\n'.join(self.pipeline.segmenter.class_names)))

    def _create_subscription(self) -> None:
        topic = self.settings['input.topic']
        msg_type = Image
        if self.settings['input.transport'] == 'compressed':
            topic, msg_type = topic.rstrip('/') + '/compressed', CompressedImage
        profile = qos.input_qos(self.settings['input.qos.reliability'],
                                self.settings['input.qos.depth'])
        self._input_topic = self.resolve_topic_name(topic)
        self.subscription = self.create_subscription(
            msg_type, topic, self._on_frame, profile,
            event_callbacks=qos.subscription_events(self.get_logger(), self._input_topic))

    # -------------------------------------------------------------- callbacks
    def _on_frame(self, msg) -> None:
        self.slot.put((msg, self.get_clock().now().nanoseconds))

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """Accept changes of dynamic parameters; reject others with the reason."""
        for parameter in parameters:
            spec = next((s for s in NODE_PARAMETERS if s.name == parameter.name), None)
            if spec is None:
                continue
            problem = validate(parameter.name, parameter.value)
            if problem is None and not spec.dynamic and hasattr(self, 'pipeline'):
                problem = f'{parameter.name} is read only while the node runs; restart the node'
            if problem is not None:
                return SetParametersResult(successful=False, reason=problem)
        for parameter in parameters:
            self._apply_dynamic(parameter.name, parameter.value)
        return SetParametersResult(successful=True)

    def _apply_dynamic(self, name: str, value: Any) -> None:
        if not hasattr(self, 'pipeline'):
            return
        with self._pipeline_lock:
            if name == 'fusion.weight':
                self.pipeline.weight = float(value)
            elif name == 'translator.prompt':
                self.pipeline.translator.set_prompt(value)
                self.get_logger().info('translator prompt changed; new frames use it')
            self.settings.values[name] = value

    # ----------------------------------------------------------------- worker
    def _work(self) -> None:
        while not self._stopping.is_set():
            item = self.slot.take(timeout=0.1)
            if item is not None:
                self._process(*item)

    def _process(self, msg, received_ns: int) -> None:
        """Decode, run the pipeline and publish one frame; a failure skips only this frame."""
        header = msg.header
        ids = f'frame_id={header.frame_id!r} stamp={header.stamp.sec}.{header.stamp.nanosec:09d}'
        throttle = self.settings['log_throttle']
        try:
            start = time.perf_counter()
            rgb = image_from_msg(msg)
            decode_ms = (time.perf_counter() - start) * 1000.0
            with self._pipeline_lock:
                result = self.pipeline.process(rgb, all_masks=self.pub_mask_base is not None)
            start = time.perf_counter()
            self._publish_result(header, rgb, result)
            publish_ms = (time.perf_counter() - start) * 1000.0
        except FrameError as error:
            self.failed += 1
            self.get_logger().error(f'skipped frame {ids}: {error}',
                                    throttle_duration_sec=throttle)
            return
        except Exception as error:  # noqa: BLE001 - the node must survive any bad frame.
            self.failed += 1
            self.get_logger().error(f'processing failed for frame {ids}: '
                                    f'{type(error).__name__}: {error}',
                                    throttle_duration_sec=throttle)
            return

        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        timings = {'decode': decode_ms, **result.timings_ms, 'publish': publish_ms,
                   'age_at_receive': (received_ns - stamp_ns) / 1e6,
                   'age_at_publish': (self.get_clock().now().nanoseconds - stamp_ns) / 1e6}
        self.stats.record(timings)
        self.processed += 1
        if self.pub_timing is not None:
            self.pub_timing.publish(_timing_message(header, timings, result.fallback_reason))
        if result.fallback_reason is not None:
            self.get_logger().warning(
                f'translation rejected for frame {ids} ({result.fallback_reason}); '
                'used the original frame', throttle_duration_sec=throttle)
        if not self._first_frame_logged:
            self._first_frame_logged = True
            self.get_logger().info(f'first frame processed: {rgb.shape[1]}x{rgb.shape[0]} {ids}')
        self.get_logger().debug(' '.join(f'{k}={v:.1f}ms' for k, v in timings.items()))

    def _publish_result(self, header, rgb, result: FrameResult) -> None:
        self.pub_translated.publish(rgb_to_image_msg(result.translated, header))
        self.pub_mask.publish(mono_to_image_msg(result.mask_fused, header))
        if self.pub_color is not None or self.pub_overlay is not None:
            colors = labels.train_ids_to_color(result.mask_fused)
            if self.pub_color is not None:
                self.pub_color.publish(rgb_to_image_msg(colors, header))
            if self.pub_overlay is not None:
                overlay = labels.overlay(rgb, result.mask_fused,
                                         alpha=self.settings['output.overlay_alpha'])
                self.pub_overlay.publish(rgb_to_image_msg(overlay, header))
        if self.pub_mask_base is not None:
            self.pub_mask_base.publish(mono_to_image_msg(result.mask_base, header))
            self.pub_mask_translated.publish(mono_to_image_msg(result.mask_translated, header))

    # ------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        counts = (self.slot.received, self.processed, self.slot.dropped, self.failed)
        last_time, *last_counts = self._last_report
        period = max(now - last_time, 1e-9)
        new_in, new_processed, new_dropped, new_failed = (
            c - p for c, p in zip(counts, last_counts))
        self._last_report = (now, *counts)

        status = DiagnosticStatus(name=f'{self.get_name()}: ttm pipeline',
                                  hardware_id=self.get_fully_qualified_name())
        status.level, status.message = DiagnosticStatus.OK, 'running'
        if new_failed:
            status.level, status.message = DiagnosticStatus.WARN, f'{new_failed} frames failed'
        elif new_in and new_dropped / new_in > 0.5:
            status.level = DiagnosticStatus.WARN
            status.message = f'dropping {new_dropped} of {new_in} frames: the models are slower than the camera'
            self.get_logger().warning(status.message, throttle_duration_sec=self.settings['log_throttle'])
        values: Dict[str, float] = {
            'frames_in': counts[0], 'processed': counts[1], 'dropped': counts[2],
            'failed': counts[3], 'fallbacks': self.pipeline.fallbacks,
            'pending': self.slot.pending(), 'input_rate_hz': new_in / period,
            'output_rate_hz': new_processed / period,
        }
        for stage, summary in self.stats.summary().items():
            values[f'{stage}_mean_ms'] = summary['mean_ms']
            values[f'{stage}_p95_ms'] = summary['p95_ms']
        status.values = [KeyValue(key=k, value=_format_number(v)) for k, v in values.items()]
        message = DiagnosticArray(status=[status])
        message.header.stamp = self.get_clock().now().to_msg()
        self.pub_diagnostics.publish(message)

    # ---------------------------------------------------------------- closing
    def destroy_node(self) -> None:
        """Stop the worker, release the models and destroy the node."""
        if hasattr(self, '_worker'):
            self._stopping.set()
            self.slot.close()
            self._worker.join(timeout=10.0)
        if hasattr(self, 'pipeline'):
            self.pipeline.close()
        self.get_logger().info(
            f'stopped: {self.processed} processed, {self.slot.dropped if hasattr(self, "slot") else 0} '
            f'dropped, {self.failed} failed')
        super().destroy_node()


def _descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    description = spec.description + (f' Unit: {spec.unit}.' if spec.unit else '')
    descriptor = ParameterDescriptor(description=description, read_only=False)
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if isinstance(spec.default, float) and spec.minimum is not None and spec.maximum is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    elif (isinstance(spec.default, int) and not isinstance(spec.default, bool)
          and spec.minimum is not None and spec.maximum is not None):
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.minimum), to_value=int(spec.maximum), step=0)]
    return descriptor


def _timing_message(header, timings: Dict[str, float], fallback: Optional[str]) -> DiagnosticArray:
    status = DiagnosticStatus(name='ttm frame timing', message=fallback or 'ok',
                              level=DiagnosticStatus.WARN if fallback else DiagnosticStatus.OK)
    status.values = [KeyValue(key=f'{k}_ms', value=f'{v:.3f}') for k, v in timings.items()]
    return DiagnosticArray(header=header, status=[status])


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f'{value:.3f}'


def main(args: Optional[List[str]] = None) -> int:
    """Run the TTM node until shutdown; return 1 when its configuration is invalid."""
    raise_keyboard_interrupt_on_signals()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    try:
        node = TTMNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigurationError as error:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {error}')
        code = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    raise SystemExit(main())
