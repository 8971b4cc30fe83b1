"""Every parameter of the TTM node, declared once.

The node declares its ROS parameters from `NODE_PARAMETERS`, validates every change
with `validate`, and builds its settings with `settings_from_values`; the reference
page (docs/reference.md) is generated from the same table, so the three cannot drift.
Parameter names are flat with dots (`translator.name`), as in YAML parameter files.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.prompts import DEFAULT_PRESET, prompt_problem, resolve_prompt
from ttm_ros.core.segmenters.base import SegmenterSettings
from ttm_ros.core.translators.base import TranslatorSettings


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default (whose type is the parameter's type) and limits.

    `minimum`/`maximum` are inclusive; `choices` lists the valid strings; a
    `dynamic` parameter may change while the node runs, others need a restart.
    `value_check`, when set, returns why a value of the right type is invalid (or
    None), for rules beyond a range.
    """

    name: str
    default: Any
    description: str
    unit: str = ''
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: Tuple[str, ...] = ()
    dynamic: bool = False
    value_check: Optional[Callable[[Any], Optional[str]]] = None

    @property
    def type_name(self) -> str:
        return {bool: 'bool', int: 'int', float: 'double', str: 'string',
                tuple: 'string[]'}[type(self.default)]

    def check(self, value: Any) -> Optional[str]:
        """Return why `value` is invalid for this parameter, or None when it is valid."""
        expected = type(self.default)
        if expected is tuple:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                return (f"{self.name} must be a list of strings, got {value!r}; write it in brackets, "
                        f"for example -p '{self.name}=[first, second]'")
            return self.value_check(value) if self.value_check else None
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            return f'{self.name} must be a {self.type_name}, got {value!r}'
        if self.choices and value not in self.choices:
            return f'{self.name}={value!r} is invalid; choose one of {", ".join(self.choices)}'
        if self.minimum is not None and value < self.minimum:
            return f'{self.name}={value} is below the minimum {self.minimum}'
        if self.maximum is not None and value > self.maximum:
            return f'{self.name}={value} is above the maximum {self.maximum}'
        if self.value_check is not None:
            problem = self.value_check(value)
            return None if problem is None else f'{self.name}: {problem}'
        return None


# Descriptions, units and limits of the translator settings; the defaults come from
# TranslatorSettings itself.
_TRANSLATOR_FIELDS: Dict[str, Dict[str, Any]] = {
    'model': dict(description='Hub id or local directory of the diffusers editing pipeline; '
                  'required by flux2-klein, kontext and qwen-edit.'),
    'prompt': dict(default=DEFAULT_PRESET, value_check=prompt_problem, dynamic=True,
                   description='Source-domain prompt given to the editor for every frame: a '
                   'preset name (clear_day_driving, realistic_photo), a prompt file ending in '
                   '.yaml (written by ttm-ros prompt), or the text itself (contains spaces). '
                   'Setting it again re-reads the file.'),
    'steps': dict(description='Denoising steps per frame; 0 selects the backend default.',
                  minimum=0, maximum=200),
    'guidance_scale': dict(description='Guidance scale of the editor; 0 selects the backend '
                           'default.', minimum=0.0, maximum=30.0),
    'seed': dict(description='Seed of the initial noise, reused for every frame.', minimum=0),
    'max_pixels': dict(description="Upper bound of the editor's working image area.",
                       unit='pixels', minimum=4096),
    'min_side': dict(description='Smallest side the editor accepts.', unit='pixels', minimum=16),
    'multiple': dict(description='Both working sides are multiples of this.', unit='pixels',
                     minimum=1),
    'device': dict(description='Torch device: auto (CUDA when available), cpu, cuda or cuda:N.'),
    'dtype': dict(description='Weights dtype: auto (bfloat16 on CUDA, float32 on CPU), bfloat16, '
                  'float32, or float16 (rejected for FLUX-family editors, whose VAEs overflow).',
                  choices=('auto', 'bfloat16', 'float32', 'float16')),
    'cache_dir': dict(description='Folder of cached prompt embeddings; empty selects '
                      '~/.cache/ttm_ros/prompt_embeds.'),
    'lora_path': dict(description='Local LoRA file fused into the editor (qwen-edit Lightning).'),
    'compile': dict(description='torch.compile the editor transformer; each working size '
                    'compiles once, at start for translator.warmup_sizes.'),
    'warmup_sizes': dict(description='Frame sizes WIDTHxHEIGHT, comma-separated, translated once '
                         'at start (compiles them and measures the first edit).'),
    'attention_backend': dict(description='diffusers attention backend of the editor (flash, '
                              'sage, native, ...); empty keeps PyTorch scaled dot product '
                              'attention. Hub-downloaded backends are rejected.'),
    'channels_last': dict(description='Keep the editor VAE in channels-last memory format.'),
    'cpu_offload': dict(description='Keep editor parts on the CPU until they run (CUDA only): '
                        'none, model (whole components) or sequential (layer by layer, '
                        'smallest memory, slowest).', choices=('none', 'model', 'sequential')),
    'gamma_target': dict(description='Classical: mean luminance (0..1) that dark frames are '
                         'brightened to.', minimum=0.01, maximum=0.99),
    'gamma_min': dict(description='Classical: smallest gamma exponent, the strongest '
                      'brightening.', minimum=0.01, maximum=1.0),
    'haze_strength': dict(description='Classical: fraction of the estimated haze removed; 0 '
                          'disables dehazing.', minimum=0.0, maximum=1.0),
    'haze_threshold': dict(description='Classical: haze level (median dark channel, 0..1) below '
                           'which a frame is not dehazed.', minimum=0.0, maximum=0.99),
    'transmission_min': dict(description='Classical: lower bound of the transmission map; the '
                             'dehazing contrast gain is at most its inverse.',
                             minimum=0.01, maximum=1.0),
    'clahe_clip': dict(description='Classical: CLAHE clip limit on luminance; 0 disables CLAHE.',
                       minimum=0.0, maximum=40.0),
    'clahe_tiles': dict(description='Classical: CLAHE tiles per side.', minimum=1, maximum=64),
    'analysis_downscale': dict(description='Classical: reduction per side of the copy used to '
                               'estimate brightness and haze.', minimum=1, maximum=64),
}

_SEGMENTER_FIELDS: Dict[str, Dict[str, Any]] = {
    'model': dict(description='Hub id or local directory (transformers) or .onnx file (onnx); '
                  'overrides the model named in segmenter.config.'),
    'config': dict(description='YAML file of the ONNX backend (input layout, tiling, outputs); '
                   'a bare name is looked up in the package config/models folder.'),
    'device': dict(description='auto (CUDA when available), cpu or cuda.'),
    'num_threads': dict(description='CPU threads of the backend; 0 lets it choose.', minimum=0,
                        maximum=256),
}


def _translator_spec(field: dataclasses.Field) -> ParameterSpec:
    """Return the spec of one TranslatorSettings field.

    A `default` in `_TRANSLATOR_FIELDS` replaces the field's own: the prompt parameter
    defaults to a preset name, which `settings_from_values` resolves to the text.
    """
    options = dict(_TRANSLATOR_FIELDS.get(field.name, {'description': ''}))
    default = options.pop('default', field.default)
    if default is dataclasses.MISSING:
        default = field.default_factory()  # type: ignore[misc]
    return ParameterSpec('translator.' + field.name, default, **options)


#: Parameters of every camera-processing node (TTM node, detection node): input,
#: QoS, scheduling and diagnostics.
FRAME_NODE_PARAMETERS: List[ParameterSpec] = [
    ParameterSpec('input.topic', 'image_raw', 'Camera topic to subscribe to.'),
    ParameterSpec('input.transport', 'raw', 'raw subscribes to sensor_msgs/Image, compressed '
                  'to sensor_msgs/CompressedImage on <input.topic>/compressed.',
                  choices=('raw', 'compressed')),
    ParameterSpec('input.qos.reliability', 'best_effort', 'Reliability of the camera '
                  'subscription; best_effort matches camera drivers (sensor data QoS).',
                  choices=('best_effort', 'reliable')),
    ParameterSpec('input.qos.depth', 1, 'History depth of the camera subscription.',
                  unit='messages', minimum=1, maximum=1000),
    ParameterSpec('output.qos.depth', 5, 'History depth of every (reliable) output.',
                  unit='messages', minimum=1, maximum=1000),
    ParameterSpec('input.cameras', (), 'Several cameras served by one node and one set of '
                  'models: entries name=topic (or a topic, named after its namespace). Replaces '
                  'input.topic; each camera gets its own newest-frame slot, a round-robin turn '
                  'and outputs under <name>/.'),
    ParameterSpec('batch.max_frames', 1, 'Frames of different cameras translated in one batch '
                  'when they share a working size (FLUX.2 klein and Kontext edit them in one '
                  'denoising loop, Qwen-Image-Edit one after another).', unit='frames', minimum=1, maximum=16),
    ParameterSpec('evaluation_mode', False, 'Process every frame in arrival order instead of '
                  'only the newest; for replays whose metrics must not depend on speed.'),
    ParameterSpec('evaluation_max_queue', 100, 'Most frames that wait per camera in evaluation '
                  'mode; beyond it the oldest waiting frame is dropped, counted and logged. A replay '
                  'paced by the node never reaches it.', unit='frames', minimum=1, maximum=100000),
    ParameterSpec('output.timing', False, 'Publish one DiagnosticArray per processed frame on '
                  'the timing topic: its stage times, or level ERROR and the reason when the frame '
                  'failed. With evaluation_mode every received frame gets one, so recorders can '
                  'account for each; in live mode a dropped frame gets none.'),
    ParameterSpec('diagnostics.period', 1.0, 'Period of the DiagnosticArray message.',
                  unit='s', minimum=0.1, maximum=60.0),
    ParameterSpec('log_throttle', 5.0, 'Shortest interval between two log lines of one kind '
                  'of per-frame error (one camera, one message with its numbers ignored); the '
                  'next line says how many were left out.', unit='s', minimum=0.0, maximum=3600.0),
]

#: Parameters of the TTM node: the frame-node parameters plus outputs, fusion and models.
NODE_PARAMETERS: List[ParameterSpec] = [
    *FRAME_NODE_PARAMETERS,
    ParameterSpec('output.color_mask', True, 'Publish the colour mask.'),
    ParameterSpec('output.overlay', True, 'Publish the mask blended over the frame.'),
    ParameterSpec('output.overlay_alpha', 0.5, 'Weight of the mask colours in the overlay.',
                  minimum=0.0, maximum=1.0, dynamic=True),
    ParameterSpec('output.all_masks', False, 'Also publish the masks of the original '
                  '(mask/base) and translated (mask/translated) frames.'),
    ParameterSpec('bypass_translation', False, 'Skip the translator: publish the original '
                  'frame as pseudo-source and segment it alone, for A/B demos. Also set by '
                  'the ~/set_bypass service (std_srvs/SetBool).', dynamic=True),
    ParameterSpec('fusion.weight', 0.5, 'Weight w of the original frame in '
                  'p = w p(original) + (1 - w) p(translated).',
                  minimum=0.0, maximum=1.0, dynamic=True),
    ParameterSpec('translator.name', 'classical', 'Translator backend: identity, classical, '
                  'flux2-klein, kontext, qwen-edit, or package.module:ClassName.'),
    *[_translator_spec(field) for field in dataclasses.fields(TranslatorSettings)
      if field.name != 'extra'],
    ParameterSpec('segmenter.name', 'onnx', 'Segmenter backend: onnx, transformers, or '
                  'package.module:ClassName.'),
    *[ParameterSpec('segmenter.' + field.name, field.default,
                    **_SEGMENTER_FIELDS.get(field.name, {'description': ''}))
      for field in dataclasses.fields(SegmenterSettings) if field.name != 'extra'],
]

#: Parameters of the detection node: the frame-node parameters (subscribed by default
#: to the TTM node's pseudo-source image) plus the detector, fusion and outputs.
_DETECTION_INPUT = {
    'input.topic': dict(default='pseudo_source/image_raw', description=(
        'Image topic to detect on: the TTM node\'s pseudo-source image by default, or a '
        'camera topic to detect on the original frames.')),
    'input.cameras': dict(description='At most one entry name=topic (the detection node serves '
                                      'one camera); replaces input.topic.'),
    'batch.max_frames': dict(description='Frames taken per turn; with one camera only 1 is used.'),
}

DETECTION_NODE_PARAMETERS: List[ParameterSpec] = [
    *[dataclasses.replace(spec, **_DETECTION_INPUT.get(spec.name, {})) for spec in FRAME_NODE_PARAMETERS],
    ParameterSpec('original.topic', '', 'Original camera topic (sensor_msgs/Image) whose frames '
                  'are matched to the input by header stamp, for detection fusion and the '
                  'composite view; empty subscribes to nothing.'),
    ParameterSpec('detector.name', 'onnx', 'Detector backend: onnx (grid-output models such as '
                  'YOLOX), transformers, torchvision, or package.module:ClassName.'),
    ParameterSpec('detector.model', '', 'Hub id or local directory (transformers), .onnx file '
                  '(onnx; overrides the model named in detector.config) or builder name '
                  '(torchvision).'),
    ParameterSpec('detector.config', 'yolox_nano_coco', 'YAML file of the onnx detector (input '
                  'size, strides, classes), a bare name is looked up in config/models; for '
                  'torchvision an optional state-dict file.'),
    ParameterSpec('detector.device', 'auto', 'auto (CUDA when available), cpu, cuda or cuda:N.'),
    ParameterSpec('detector.num_threads', 0, 'CPU threads of the backend; 0 lets it choose.',
                  minimum=0, maximum=256),
    ParameterSpec('detector.score_threshold', 0.3, 'Detections with a lower score are dropped.',
                  minimum=0.0, maximum=1.0, dynamic=True),
    ParameterSpec('detector.nms_iou', 0.45, 'IoU above which NMS removes the lower-scoring box '
                  'of one class (onnx detector).', minimum=0.0, maximum=1.0),
    ParameterSpec('detector.max_detections', 100, 'Most detections published per frame.',
                  minimum=1, maximum=10000, dynamic=True),
    ParameterSpec('detector.class_map', '', 'YAML mapping of model labels to published labels '
                  '(e.g. coco_to_driving in config/class_maps); unmapped labels are dropped. '
                  'Empty publishes the model labels.'),
    ParameterSpec('fusion.mode', 'none', 'Box fusion of the detections on the original frame '
                  '(from original.topic) and on the input: none (input only), wbf (weighted '
                  'box fusion) or nms (score-aware NMS over both).',
                  choices=('none', 'wbf', 'nms'), dynamic=True),
    ParameterSpec('fusion.iou', 0.55, 'IoU above which two boxes of one label are fused.',
                  minimum=0.0, maximum=1.0, dynamic=True),
    ParameterSpec('output.overlay', True, 'Publish the input image with boxes and labels drawn.'),
    ParameterSpec('output.composite', True, 'Create the composite view topic (original, '
                  'pseudo-source, segmentation overlay, boxes, latency and rate); it is rendered '
                  'only while someone subscribes.'),
    ParameterSpec('composite.segmentation_topic', 'segmentation/overlay', 'Segmentation overlay '
                  'shown in the composite view; empty leaves that tile black.'),
]


@dataclasses.dataclass
class NodeSettings:
    """Validated settings of the TTM node, built from its parameter values."""

    values: Dict[str, Any]
    translator_name: str
    translator: TranslatorSettings
    segmenter_name: str
    segmenter: SegmenterSettings

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def defaults(specs: Sequence[ParameterSpec] = NODE_PARAMETERS) -> Dict[str, Any]:
    """Return {name: default} of every parameter in `specs` (default: the TTM node's)."""
    return {spec.name: spec.default for spec in specs}


def validate(name: str, value: Any,
             specs: Sequence[ParameterSpec] = NODE_PARAMETERS) -> Optional[str]:
    """Return why `value` is invalid for parameter `name`, or None when it is valid."""
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        return f'unknown parameter {name!r}'
    return spec.check(value)


def checked_overrides(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Return command-line overrides checked against every node's parameters.

    A name must belong to the TTM node, the detection node or be `use_sim_time`, or be
    one node's parameter prefixed with the node name (`detection_node.output.overlay`);
    an integer given for a double parameter becomes a float (ROS would reject it).
    Raises ConfigurationError naming each unknown parameter or invalid value.
    """
    tables = {'ttm_node': NODE_PARAMETERS, 'detection_node': DETECTION_NODE_PARAMETERS}
    specs = {spec.name: spec for spec in [*NODE_PARAMETERS, *DETECTION_NODE_PARAMETERS]}
    checked: Dict[str, Any] = {}
    problems = []
    for name, value in values.items():
        if name == 'use_sim_time':
            checked[name] = value
            continue
        node, _, own_name = name.partition('.')
        if node in tables:
            spec = next((spec for spec in tables[node] if spec.name == own_name), None)
        else:
            spec = specs.get(name)
        if spec is None:
            problems.append(f'unknown parameter {name!r}')
            continue
        if isinstance(spec.default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        problem = spec.check(value)
        if problem:
            problems.append(problem)
        checked[name] = value
    if problems:
        raise ConfigurationError('; '.join(problems) + '; docs/reference.md lists every parameter')
    return checked


def checked_values(values: Mapping[str, Any],
                   specs: Sequence[ParameterSpec] = NODE_PARAMETERS) -> Dict[str, Any]:
    """Return `values` over the defaults of `specs`, or raise ConfigurationError.

    The error names every unknown parameter and every invalid value with its range.
    """
    merged = defaults(specs)
    unknown = sorted(set(values) - set(merged))
    if unknown:
        raise ConfigurationError(
            f'unknown parameter(s) {", ".join(unknown)}; see docs/reference.md for the list')
    merged.update(values)
    problems = [problem for name, value in merged.items()
                if (problem := validate(name, value, specs)) is not None]
    if problems:
        raise ConfigurationError('; '.join(problems))
    return merged


def settings_from_values(values: Mapping[str, Any]) -> NodeSettings:
    """Validate a full {name: value} mapping and build the node's settings.

    Missing names take their defaults; an unknown name or invalid value raises
    ConfigurationError naming the parameter and the valid range.
    """
    merged = checked_values(values, NODE_PARAMETERS)
    translator_values = _section(merged, 'translator.', exclude=('name',))
    translator_values['prompt'] = resolve_prompt(translator_values['prompt'])
    translator = TranslatorSettings(**translator_values)
    segmenter = SegmenterSettings(**_section(merged, 'segmenter.', exclude=('name',)))
    return NodeSettings(merged, merged['translator.name'], translator,
                        merged['segmenter.name'], segmenter)


def _section(values: Mapping[str, Any], prefix: str, exclude: Sequence[str]) -> Dict[str, Any]:
    return {name[len(prefix):]: value for name, value in values.items()
            if name.startswith(prefix) and name[len(prefix):] not in exclude}
