"""Base class of the nodes that run models on camera frames (TTM node, detection node).

`FrameNode` owns what every such node needs and nothing model-specific:
- parameters declared from a `ParameterSpec` list, validated in one place, with dynamic
  changes applied through `apply_parameter` and the others rejected with the reason;
- the camera subscription (Image or CompressedImage, QoS from parameters, incompatible
  QoS logged), whose callback only stores the frame in a `FrameSlot`;
- one worker thread that decodes the newest frame (every frame in evaluation mode),
  calls `process_frame`, and survives any error of a single frame;
- `/diagnostics` with frames in, processed, dropped, failed, rates, and the mean and
  p95 of each stage.

Subclasses implement `load_models`, `create_outputs`, `process_frame` and `close_models`.
`ManagedFrameNode` runs the same steps as lifecycle transitions.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from ttm_ros import topics
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.frame_slot import FrameSlot
from ttm_ros.core.parameters import ParameterSpec, checked_values, validate
from ttm_ros.core.stats import StageStats
from ttm_ros.ros import qos
from ttm_ros.ros.image_msgs import image_from_msg


class FrameNodeMixin:
    """The machinery of a frame node, for rclpy `Node` and `LifecycleNode` alike.

    A plain node runs every step in its constructor (`FrameNode`); a managed node
    runs them in its lifecycle transitions (`ManagedFrameNode`):
    `declare_frame_parameters` at construction, `open_models` on configure,
    `start_input` on activate, `stop_input` on deactivate, `close_outputs` on cleanup.
    """

    #: Name in log lines and diagnostics, e.g. 'ttm pipeline'.
    pipeline_name = 'frame pipeline'
    #: Whether restart-only parameters are declared read only. A managed node leaves
    #: them writable, so they can change between cleanup and configure.
    restart_only_read_only = True

    def declare_frame_parameters(self, parameter_specs: Sequence[ParameterSpec]) -> None:
        """Declare the parameters, the diagnostics publisher and timer, and the counters."""
        self.parameter_specs = list(parameter_specs)
        for spec in self.parameter_specs:
            self.declare_parameter(spec.name, spec.default,
                                   parameter_descriptor(spec, read_only=self.restart_only_read_only))
        self.values: Dict[str, Any] = self.read_parameter_values()
        self.model_lock = threading.Lock()
        self.models_loaded = False
        self._worker: Optional[threading.Thread] = None
        self.subscription = None
        self._output_publishers: List[Any] = []
        self.slot = FrameSlot(keep_all=self.values['evaluation_mode'])
        self.stats = StageStats()
        self.processed = 0
        self.failed = 0
        self._first_frame_logged = False
        self._last_report = (time.monotonic(), 0, 0, 0, 0)
        self.output_qos = qos.output_qos(self.values['output.qos.depth'])
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS,
                                                     self.output_qos)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.values['diagnostics.period'], self._publish_diagnostics)

    def read_parameter_values(self) -> Dict[str, Any]:
        """Return the current parameter values, validated (ConfigurationError otherwise)."""
        return checked_values(
            {spec.name: self.get_parameter(spec.name).value for spec in self.parameter_specs},
            self.parameter_specs)

    def open_models(self) -> None:
        """Load the models and create the outputs; a bad model raises ConfigurationError."""
        self.values = self.read_parameter_values()
        self.slot.keep_all = self.values['evaluation_mode']
        self.load_models()
        self.models_loaded = True
        self.create_outputs()

    def start_input(self) -> None:
        """Subscribe to the camera and start the worker."""
        self.slot.reopen()
        self._create_subscription()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name=f'{self.get_name()}_worker',
                                        daemon=True)
        self._worker.start()
        mode = 'evaluation (every frame)' if self.slot.keep_all else 'live (newest frame)'
        self.get_logger().info(f'ready in {mode} mode, listening on {self.input_topic}')

    def stop_input(self) -> None:
        """Unsubscribe from the camera and stop the worker after its current frame."""
        if self.subscription is not None:
            self.destroy_subscription(self.subscription)
            self.subscription = None
        if self._worker is not None:
            self._stopping.set()
            self.slot.close()
            self._worker.join(timeout=30.0)
            self._worker = None

    def close_outputs(self) -> None:
        """Destroy the output publishers and release the models."""
        for publisher in self._output_publishers:
            self.destroy_publisher(publisher)
        self._output_publishers = []
        if self.models_loaded:
            with self.model_lock:
                self.close_models()
            self.models_loaded = False

    # ------------------------------------------------------------ subclass API
    def load_models(self) -> None:
        """Load the models from `self.values`; raise ConfigurationError with the fix."""

    def create_outputs(self) -> None:
        """Create the node's publishers (use `create_output_publisher`)."""

    def process_frame(self, header, rgb: np.ndarray) -> Dict[str, float]:
        """Run the models on one decoded frame, publish, and return stage times in ms.

        Raise FrameError for a frame that cannot be processed; the base class logs it
        with the frame's ids and counts it as failed.
        """
        raise NotImplementedError

    def apply_parameter(self, name: str, value: Any) -> None:
        """Apply a validated change of a dynamic parameter.

        Runs in the parameter service callback while frames keep flowing; take
        `model_lock` for a change that must not overlap a frame. An exception rejects
        the change with its message and leaves the node running.
        """

    def extra_diagnostics(self) -> Dict[str, float]:
        """Return node-specific values for the diagnostics message."""
        return {}

    def close_models(self) -> None:
        """Release the models."""

    def create_output_publisher(self, msg_type, topic: str):
        """Create a reliable output publisher that logs incompatible subscribers."""
        publisher = self.create_publisher(msg_type, topic, self.output_qos,
                                          event_callbacks=qos.publisher_events(self.get_logger(), topic))
        self._output_publishers.append(publisher)
        return publisher

    # ------------------------------------------------------------------ set-up
    def _create_subscription(self) -> None:
        topic = self.values['input.topic']
        msg_type = Image
        if self.values['input.transport'] == 'compressed':
            topic, msg_type = topic.rstrip('/') + '/compressed', CompressedImage
        profile = qos.input_qos(self.values['input.qos.reliability'], self.values['input.qos.depth'])
        self.input_topic = self.resolve_topic_name(topic)
        self.subscription = self.create_subscription(
            msg_type, topic, self._on_frame, profile,
            event_callbacks=qos.subscription_events(self.get_logger(), self.input_topic))

    # --------------------------------------------------------------- callbacks
    def _on_frame(self, msg) -> None:
        self.slot.put((msg, self.get_clock().now().nanoseconds))

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """Accept changes of dynamic parameters; reject others with the reason."""
        specs = {spec.name: spec for spec in self.parameter_specs}
        for parameter in parameters:
            spec = specs.get(parameter.name)
            if spec is None:
                continue
            problem = validate(parameter.name, parameter.value, self.parameter_specs)
            if problem is None and not spec.dynamic and getattr(self, 'models_loaded', False):
                problem = (f'{parameter.name} is read only while the models are loaded; restart '
                           'the node (or clean up a managed node, set it, and configure again)')
            if problem is not None:
                return SetParametersResult(successful=False, reason=problem)
        if getattr(self, 'models_loaded', False):
            for parameter in parameters:
                if parameter.name not in specs:
                    continue
                try:
                    self.apply_parameter(parameter.name, parameter.value)
                except Exception as error:  # noqa: BLE001 - a failed change must not end the node.
                    reason = f'applying {parameter.name} failed: {type(error).__name__}: {error}'
                    self.get_logger().error(reason)
                    return SetParametersResult(successful=False, reason=reason)
                self.values[parameter.name] = parameter.value
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while not self._stopping.is_set():
            item = self.slot.take(timeout=0.1)
            if item is not None:
                self._process(*item)

    def _process(self, msg, received_ns: int) -> None:
        """Decode and process one frame; a failure skips only this frame."""
        header = msg.header
        ids = f'frame_id={header.frame_id!r} stamp={header.stamp.sec}.{header.stamp.nanosec:09d}'
        throttle = self.values['log_throttle']
        try:
            start = time.perf_counter()
            rgb = image_from_msg(msg)
            decode_ms = (time.perf_counter() - start) * 1000.0
            with self.model_lock:
                timings = self.process_frame(header, rgb)
        except FrameError as error:
            self.failed += 1
            self.get_logger().error(f'skipped frame {ids}: {error}', throttle_duration_sec=throttle)
            self.frame_failed(header, str(error))
            return
        except Exception as error:  # noqa: BLE001 - the node must survive any bad frame.
            self.failed += 1
            reason = f'{type(error).__name__}: {error}'
            self.get_logger().error(f'processing failed for frame {ids}: {reason}',
                                    throttle_duration_sec=throttle)
            self.frame_failed(header, reason)
            return

        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        timings = {'decode': decode_ms, **timings,
                   'age_at_receive': (received_ns - stamp_ns) / 1e6,
                   'age_at_publish': (self.get_clock().now().nanoseconds - stamp_ns) / 1e6}
        self.stats.record(timings)
        self.processed += 1
        self.frame_done(header, timings)
        if not self._first_frame_logged:
            self._first_frame_logged = True
            self.get_logger().info(f'first frame processed: {rgb.shape[1]}x{rgb.shape[0]} {ids}')
        self.get_logger().debug(' '.join(f'{k}={v:.1f}ms' for k, v in timings.items()))

    def frame_done(self, header, timings_ms: Dict[str, float]) -> None:
        """Called after a frame was processed, with every stage time including decode."""

    def frame_failed(self, header, reason: str) -> None:
        """Called after a frame was skipped because it could not be processed."""

    # ------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        counts = (self.slot.received, self.processed, self.slot.dropped, self.failed)
        last_time, *last_counts = self._last_report
        period = max(now - last_time, 1e-9)
        new_in, new_processed, new_dropped, new_failed = (c - p for c, p in zip(counts, last_counts))
        self._last_report = (now, *counts)

        status = DiagnosticStatus(name=f'{self.get_name()}: {self.pipeline_name}',
                                  hardware_id=self.get_fully_qualified_name())
        status.level, status.message = DiagnosticStatus.OK, 'running'
        if new_failed:
            status.level, status.message = DiagnosticStatus.WARN, f'{new_failed} frames failed'
        elif new_in and new_dropped / new_in > 0.5:
            status.level = DiagnosticStatus.WARN
            status.message = (f'dropping {new_dropped} of {new_in} frames: the models are slower '
                              'than the camera')
            self.get_logger().warning(status.message, throttle_duration_sec=self.values['log_throttle'])
        values: Dict[str, float] = {
            'frames_in': counts[0], 'processed': counts[1], 'dropped': counts[2],
            'failed': counts[3], **self.extra_diagnostics(), 'pending': self.slot.pending(),
            'input_rate_hz': new_in / period, 'output_rate_hz': new_processed / period,
        }
        for stage, summary in self.stats.summary().items():
            values[f'{stage}_mean_ms'] = summary['mean_ms']
            values[f'{stage}_p95_ms'] = summary['p95_ms']
        status.values = [KeyValue(key=k, value=_format_number(v)) for k, v in values.items()]
        message = DiagnosticArray(status=[status])
        message.header.stamp = self.get_clock().now().to_msg()
        self.pub_diagnostics.publish(message)

    def shut_down_processing(self) -> None:
        """Stop the input, log the counts and release outputs and models."""
        if not hasattr(self, 'slot'):
            return  # Construction failed before the frame machinery existed.
        if self._worker is not None:
            self.stop_input()
            self.get_logger().info(f'stopped: {self.processed} processed, {self.slot.dropped} '
                                   f'dropped, {self.failed} failed')
        self.close_outputs()


class FrameNode(FrameNodeMixin, Node):
    """A node that runs models on the newest camera frame from its start to its end."""

    def __init__(self, node_name: str, parameter_specs: Sequence[ParameterSpec], **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self.declare_frame_parameters(parameter_specs)
        self.open_models()
        self.start_input()

    def destroy_node(self) -> None:
        """Stop the worker, release the models and destroy the node."""
        if hasattr(self, 'parameter_specs'):
            self.shut_down_processing()
        super().destroy_node()


class ManagedFrameNode(FrameNodeMixin, LifecycleNode):
    """A lifecycle (managed) frame node.

    configure loads the models and creates the outputs, activate subscribes to the
    camera, deactivate unsubscribes, cleanup destroys the outputs and frees the models.
    A configure that fails (missing model, bad parameter) logs the error and stays
    unconfigured, so the parameter can be fixed and configure tried again.
    """

    restart_only_read_only = False

    def __init__(self, node_name: str, parameter_specs: Sequence[ParameterSpec], **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self.declare_frame_parameters(parameter_specs)

    def on_configure(self, state) -> TransitionCallbackReturn:
        try:
            self.open_models()
        except ConfigurationError as error:
            self.get_logger().error(f'configure failed: {error}')
            self.close_outputs()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        self.start_input()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self.stop_input()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self.close_outputs()
        self.get_logger().info('models released')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self.shut_down_processing()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Stop the worker, release the models and destroy the node."""
        if hasattr(self, 'parameter_specs'):
            self.shut_down_processing()
        super().destroy_node()


def parameter_descriptor(spec: ParameterSpec, read_only: bool = True) -> ParameterDescriptor:
    """Return the ROS descriptor of a parameter: description, unit, choices and range.

    A restart-only parameter is read only when `read_only` is True. A range with one
    open end gets the extreme value of its type there.
    """
    description = spec.description + (f' Unit: {spec.unit}.' if spec.unit else '')
    descriptor = ParameterDescriptor(description=description,
                                     read_only=read_only and not spec.dynamic)
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    bounded = spec.minimum is not None or spec.maximum is not None
    if isinstance(spec.default, float) and bounded:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum if spec.minimum is not None else -sys.float_info.max),
            to_value=float(spec.maximum if spec.maximum is not None else sys.float_info.max),
            step=0.0)]
    elif isinstance(spec.default, int) and not isinstance(spec.default, bool) and bounded:
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.minimum if spec.minimum is not None else -2**63),
            to_value=int(spec.maximum if spec.maximum is not None else 2**63 - 1), step=0)]
    return descriptor


def timing_message(header, timings_ms: Dict[str, float], message: Optional[str] = None,
                   level: Optional[bytes] = None) -> DiagnosticArray:
    """Return a DiagnosticArray with one frame's stage times (`<stage>_ms` keys) and its header.

    The status message is 'ok', or the reason of a fallback (level WARN) or of a
    failure (level ERROR, no timings).
    """
    if level is None:
        level = DiagnosticStatus.WARN if message else DiagnosticStatus.OK
    status = DiagnosticStatus(name='frame timing', message=message or 'ok', level=level)
    status.values = [KeyValue(key=f'{k}_ms', value=f'{v:.3f}') for k, v in timings_ms.items()]
    return DiagnosticArray(header=header, status=[status])


def run_node(node_class, node_name: str, args: Optional[List[str]] = None) -> int:
    """Run one node until shutdown; return 1 when its configuration is invalid."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.exceptions import ParameterException
    from rclpy.signals import SignalHandlerOptions

    from ttm_ros.core.errors import ConfigurationError
    from ttm_ros.ros.shutdown import raise_keyboard_interrupt_on_signals

    raise_keyboard_interrupt_on_signals()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    try:
        node = node_class()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigurationError as error:
        rclpy.logging.get_logger(node_name).fatal(f'cannot start: {error}')
        code = 1
    except ParameterException as error:
        rclpy.logging.get_logger(node_name).fatal(
            f'cannot start: {error}. Fix the value in the parameter file or the -p override; '
            'docs/reference.md lists every parameter with its type and range.')
        code = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f'{value:.3f}'
