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

import dataclasses
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image

from ttm_ros import topics
from ttm_ros.core.cameras import parse_cameras
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.frame_slot import FrameSlot
from ttm_ros.core.parameters import ParameterSpec, checked_values, validate
from ttm_ros.core.repeat_filter import RepeatFilter, message_kind
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
    #: The maximum number of cameras one node serves (None: any number).
    max_cameras: Optional[int] = None
    #: Whether restart-only parameters are declared read only. A managed node leaves
    #: them writable, so they can change between cleanup and configure.
    restart_only_read_only = True

    def declare_frame_parameters(self, parameter_specs: Sequence[ParameterSpec]) -> None:
        """Declare the parameters, the diagnostics publisher and timer, and the counters."""
        self.parameter_specs = list(parameter_specs)
        for spec in self.parameter_specs:
            descriptor = parameter_descriptor(spec, read_only=self.restart_only_read_only)
            # An empty list has no type in rclpy, so string arrays are declared by type.
            default = Parameter.Type.STRING_ARRAY if isinstance(spec.default, tuple) else spec.default
            self.declare_parameter(spec.name, default, descriptor)
        self.values: Dict[str, Any] = self.read_parameter_values()
        self.model_lock = threading.Lock()
        self.models_loaded = False
        self._worker: Optional[threading.Thread] = None
        self._frame_ready = threading.Event()
        self._output_publishers: List[Any] = []
        self.cameras: List[CameraInput] = []
        self.stats = StageStats()
        self._repeats = RepeatFilter(self.values['log_throttle'])
        self.processed = 0
        self.failed = 0
        self._last_report = (time.monotonic(), 0, 0, 0, 0)
        self.output_qos = qos.output_qos(self.values['output.qos.depth'])
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS,
                                                     self.output_qos)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.values['diagnostics.period'], self._publish_diagnostics)

    def read_parameter_values(self) -> Dict[str, Any]:
        """Return the current parameter values, validated (ConfigurationError otherwise)."""
        values = {}
        for spec in self.parameter_specs:
            try:
                values[spec.name] = self.get_parameter(spec.name).value
            except ParameterUninitializedException:
                values[spec.name] = spec.default  # a string array left unset
        values = checked_values(values, self.parameter_specs)
        values['input.cameras'] = tuple(values['input.cameras'])
        return values

    def open_models(self) -> None:
        """Load the models and create each camera's outputs; a bad model raises ConfigurationError."""
        self.values = self.read_parameter_values()
        self._repeats.interval = self.values['log_throttle']
        cameras = parse_cameras(self.values['input.cameras'], self.values['input.topic'])
        if self.max_cameras is not None and len(cameras) > self.max_cameras:
            raise ConfigurationError(
                f'{self.get_name()} serves at most {self.max_cameras} camera(s), input.cameras '
                f'lists {len(cameras)}; start one node per camera')
        previous = {camera.name: camera for camera in self.cameras}
        self.cameras = [previous.get(name) or CameraInput(name, topic, FrameSlot())
                        for name, topic in cameras]
        for camera in self.cameras:
            camera.topic = dict(cameras)[camera.name]
            camera.slot.keep_all = self.values['evaluation_mode']
            camera.slot.max_queue = self.values['evaluation_max_queue']
        self.load_models()
        self.models_loaded = True
        for camera in self.cameras:
            camera.outputs = self.create_outputs(camera)

    def start_input(self) -> None:
        """Subscribe to every camera and start the worker."""
        for camera in self.cameras:
            camera.slot.reopen()
            self._create_subscription(camera)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name=f'{self.get_name()}_worker',
                                        daemon=True)
        self._worker.start()
        mode = 'evaluation (every frame)' if self.values['evaluation_mode'] else 'live (newest frame)'
        topics_text = ', '.join(camera.resolved_topic for camera in self.cameras)
        self.get_logger().info(f'ready in {mode} mode, listening on {topics_text}')

    def stop_input(self) -> None:
        """Unsubscribe from the cameras and stop the worker after its current frames."""
        for camera in self.cameras:
            if camera.subscription is not None:
                self.destroy_subscription(camera.subscription)
                camera.subscription = None
        if self._worker is not None:
            self._stopping.set()
            for camera in self.cameras:
                camera.slot.close()
            self._frame_ready.set()
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

    def create_outputs(self, camera: 'CameraInput') -> Any:
        """Create one camera's publishers (use `create_output_publisher`); return them.

        The result is kept as `camera.outputs` for `process_frame`.
        """

    def process_frame(self, camera: 'CameraInput', header, rgb: np.ndarray) -> Dict[str, float]:
        """Run the models on one decoded frame, publish, and return stage times in ms.

        Raise FrameError for a frame that cannot be processed; the base class logs it
        with the frame's ids and counts it as failed.
        """
        raise NotImplementedError

    def process_frames(self, frames: List[Tuple['CameraInput', Any, np.ndarray]]) -> List[Any]:
        """Process frames of different cameras; return stage times or the error per frame.

        This default calls `process_frame` for each; a node that batches overrides it.
        """
        results: List[Any] = []
        for camera, header, rgb in frames:
            try:
                results.append(self.process_frame(camera, header, rgb))
            except Exception as error:  # noqa: BLE001 - one frame's error must not stop the others.
                results.append(error)
        return results

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

    def create_output_publisher(self, msg_type, topic: str, camera: Optional['CameraInput'] = None):
        """Create a reliable output publisher that logs incompatible subscribers.

        With a named camera the topic goes under `<camera name>/`.
        """
        if camera is not None:
            topic = camera.prefix + topic
        publisher = self.create_publisher(msg_type, topic, self.output_qos,
                                          event_callbacks=qos.publisher_events(self.get_logger(), topic))
        self._output_publishers.append(publisher)
        return publisher

    # ------------------------------------------------------------------ set-up
    def _create_subscription(self, camera: 'CameraInput') -> None:
        topic = camera.topic
        msg_type = Image
        if self.values['input.transport'] == 'compressed':
            topic, msg_type = topic.rstrip('/') + '/compressed', CompressedImage
        profile = qos.input_qos(self.values['input.qos.reliability'], self.values['input.qos.depth'])
        camera.resolved_topic = self.resolve_topic_name(topic)
        camera.subscription = self.create_subscription(
            msg_type, topic, lambda msg: self._on_frame(camera, msg), profile,
            event_callbacks=qos.subscription_events(self.get_logger(), camera.resolved_topic))

    @property
    def input_topic(self) -> str:
        """Return the resolved topic of the first camera."""
        return self.cameras[0].resolved_topic if self.cameras else ''

    # --------------------------------------------------------------- callbacks
    def _on_frame(self, camera: 'CameraInput', msg) -> None:
        if camera.slot.put((msg, self.get_clock().now().nanoseconds)) and camera.slot.keep_all:
            self._warn_queue_full(camera)
        self._frame_ready.set()

    def _warn_queue_full(self, camera: 'CameraInput') -> None:
        self.get_logger().warning(
            f'evaluation queue{camera.label} is full ({camera.slot.max_queue} frames), so the oldest '
            f'waiting frame was dropped ({camera.slot.dropped} so far). Publish slower, or raise '
            'evaluation_max_queue if memory allows', throttle_duration_sec=self.values['log_throttle'])

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
        turn = 0
        while not self._stopping.is_set():
            batch = self._next_batch(turn)
            if not batch:
                self._frame_ready.wait(timeout=0.1)
                self._frame_ready.clear()
                continue
            turn = (self.cameras.index(batch[-1][0]) + 1) % len(self.cameras)
            self._process(batch)

    def _next_batch(self, turn: int) -> List[Tuple['CameraInput', Any, int]]:
        """Take the next frame of up to batch.max_frames cameras, round-robin from `turn`.

        Each camera gives at most one frame per batch, so a camera that sends faster
        than the others cannot take their turns.
        """
        batch = []
        count = len(self.cameras)
        for offset in range(count):
            camera = self.cameras[(turn + offset) % count]
            item = camera.slot.take(timeout=0)
            if item is not None:
                batch.append((camera, *item))
                if len(batch) == self.values['batch.max_frames']:
                    break
        return batch

    def _process(self, batch: List[Tuple['CameraInput', Any, int]]) -> None:
        """Decode and process frames; a failure skips only the frame it belongs to."""
        decoded = []
        for camera, msg, received_ns in batch:
            start = time.perf_counter()
            try:
                rgb = image_from_msg(msg)
            except FrameError as error:
                self._frame_error(camera, msg.header, error)
                continue
            decoded.append((camera, msg.header, rgb, received_ns, (time.perf_counter() - start) * 1000.0))
        if not decoded:
            return
        with self.model_lock:
            results = self.process_frames([(camera, header, rgb) for camera, header, rgb, _, _ in decoded])
        for (camera, header, rgb, received_ns, decode_ms), result in zip(decoded, results):
            if isinstance(result, Exception):
                self._frame_error(camera, header, result)
            else:
                self._frame_processed(camera, header, rgb, received_ns, {'decode': decode_ms, **result})

    def _frame_processed(self, camera: 'CameraInput', header, rgb: np.ndarray, received_ns: int,
                         timings: Dict[str, float]) -> None:
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        timings['age_at_receive'] = (received_ns - stamp_ns) / 1e6
        timings['age_at_publish'] = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        self.stats.record(timings)
        self.processed += 1
        camera.processed += 1
        self.frame_done(camera, header, timings)
        if camera.processed == 1:
            self.get_logger().info(f'first frame processed{camera.label}: '
                                   f'{rgb.shape[1]}x{rgb.shape[0]} {frame_ids(header)}')
        self.get_logger().debug(' '.join(f'{k}={v:.1f}ms' for k, v in timings.items()))

    def _frame_error(self, camera: 'CameraInput', header, error: Exception) -> None:
        """Log (each kind of error at most once per log_throttle), count and report one failed frame."""
        self.failed += 1
        camera.failed += 1
        if isinstance(error, FrameError):
            reason, headline = str(error), 'skipped frame'
        else:
            reason, headline = f'{type(error).__name__}: {error}', 'processing failed for frame'
            if type(error).__name__ == 'OutOfMemoryError':
                free_cuda_cache()
                reason += ('; freed cached GPU memory and skipped the frame. Lower '
                           'translator.max_pixels or batch.max_frames if this repeats')
        left_out = self._repeats.check((camera.name, message_kind(reason)))
        if left_out is not None:
            repeats = f' ({left_out} more like it not logged)' if left_out else ''
            self.get_logger().error(f'{headline}{camera.label} {frame_ids(header)}: {reason}{repeats}')
        self.frame_failed(camera, header, reason)

    def timing_publisher(self, camera: 'CameraInput') -> Optional[Any]:
        """Return the camera's per-frame timing publisher, or None (`output.timing` off)."""
        return None

    def frame_done(self, camera: 'CameraInput', header, timings_ms: Dict[str, float]) -> None:
        """Called after a frame was processed, with every stage time including decode.

        Publishes the frame's timing message. A node that adds to the message overrides this.
        """
        publisher = self.timing_publisher(camera)
        if publisher is not None:
            publisher.publish(timing_message(header, timings_ms))

    def frame_failed(self, camera: 'CameraInput', header, reason: str) -> None:
        """Called after a frame was skipped because it could not be processed.

        Publishes a timing message of level ERROR with the reason, so a recorder that
        counts one timing message per frame accounts for failed frames too.
        """
        publisher = self.timing_publisher(camera)
        if publisher is not None:
            publisher.publish(timing_message(header, {}, f'failed: {reason}', DiagnosticStatus.ERROR))

    # ------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        counts = (sum(c.slot.received for c in self.cameras), self.processed,
                  sum(c.slot.dropped for c in self.cameras), self.failed)
        last_time, *last_counts = self._last_report
        period = max(now - last_time, 1e-9)
        new_in, new_processed, new_dropped, new_failed = (c - p for c, p in zip(counts, last_counts))
        self._last_report = (now, *counts)

        status = DiagnosticStatus(name=f'{self.get_name()}: {self.pipeline_name}',
                                  hardware_id=self.get_fully_qualified_name())
        status.level, status.message = DiagnosticStatus.OK, 'running'
        if not self.models_loaded:
            status.message = 'models not loaded (a managed node waits for configure)'
        elif new_failed:
            status.level, status.message = DiagnosticStatus.WARN, f'{new_failed} frames failed'
        elif new_in and new_dropped / new_in > 0.5:
            status.level = DiagnosticStatus.WARN
            status.message = (f'dropping {new_dropped} of {new_in} frames: the models are slower '
                              'than the camera')
            self.get_logger().warning(status.message, throttle_duration_sec=self.values['log_throttle'])
        values: Dict[str, float] = {
            'frames_in': counts[0], 'processed': counts[1], 'dropped': counts[2],
            'failed': counts[3], **(self.extra_diagnostics() if self.models_loaded else {}),
            'pending': sum(c.slot.pending() for c in self.cameras),
            'input_rate_hz': new_in / period, 'output_rate_hz': new_processed / period,
        }
        if len(self.cameras) > 1:
            for camera in self.cameras:
                values.update({f'{camera.name}.frames_in': camera.slot.received,
                               f'{camera.name}.processed': camera.processed,
                               f'{camera.name}.dropped': camera.slot.dropped,
                               f'{camera.name}.failed': camera.failed})
        for stage, summary in self.stats.summary().items():
            values[f'{stage}_mean_ms'] = summary['mean_ms']
            values[f'{stage}_p95_ms'] = summary['p95_ms']
        status.values = [KeyValue(key=k, value=_format_number(v)) for k, v in values.items()]
        message = DiagnosticArray(status=[status])
        message.header.stamp = self.get_clock().now().to_msg()
        self.pub_diagnostics.publish(message)

    def shut_down_processing(self) -> None:
        """Stop the input, log the counts and release outputs and models."""
        if not hasattr(self, 'cameras'):
            return  # Construction failed before the frame machinery existed.
        if self._worker is not None:
            self.stop_input()
            dropped = sum(camera.slot.dropped for camera in self.cameras)
            self.get_logger().info(f'stopped: {self.processed} processed, {dropped} dropped, '
                                   f'{self.failed} failed')
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


@dataclasses.dataclass(eq=False)
class CameraInput:
    """One camera of a frame node: its topic, newest-frame slot, subscription and outputs."""

    name: str  # '' for the single camera of input.topic
    topic: str
    slot: FrameSlot
    subscription: Any = None
    outputs: Any = None
    resolved_topic: str = ''
    processed: int = 0
    failed: int = 0

    @property
    def prefix(self) -> str:
        """Return the output topic prefix: '<name>/' or '' for the single camera."""
        return f'{self.name}/' if self.name else ''

    @property
    def label(self) -> str:
        """Return ' of camera <name>' for log lines, or '' for the single camera."""
        return f' of camera {self.name}' if self.name else ''


def frame_ids(header) -> str:
    """Return the frame_id and stamp of a header for log lines."""
    return f'frame_id={header.frame_id!r} stamp={header.stamp.sec}.{header.stamp.nanosec:09d}'


def free_cuda_cache() -> None:
    """Release cached CUDA memory when torch is loaded (after an out-of-memory error)."""
    torch = sys.modules.get('torch')
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def parameter_descriptor(spec: ParameterSpec, read_only: bool = True) -> ParameterDescriptor:
    """Return the ROS descriptor of a parameter: description, unit, choices and range.

    A restart-only parameter is read only when `read_only` is True. A range with one
    open end gets the extreme value of its type there.
    """
    description = spec.description + (f' Unit: {spec.unit}.' if spec.unit else '')
    descriptor = ParameterDescriptor(description=description,
                                     read_only=read_only and not spec.dynamic)
    # rclpy rejects a read-only change before the node callback runs, so the fix is stated here,
    # where `ros2 param describe` shows it.
    constraints = ['one of: ' + ', '.join(spec.choices)] if spec.choices else []
    if not spec.dynamic:
        constraints.append('set at start: restart the node to change it (a managed node: '
                           'cleanup, set it, configure)')
    descriptor.additional_constraints = '; '.join(constraints)
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
