"""Source-domain prompts: presets, prompt files and the meta-prompt builder.

The editor receives one prompt, the same for every frame, that describes the source
domain. `resolve_prompt` turns the value of the `translator.prompt` parameter into
that text:

1. a value ending in `.yaml` or `.yml` is a prompt file, which must exist;
2. a value without whitespace is a preset name, looked up as
   `<share>/config/prompts/<name>.yaml`, which must exist;
3. any other value is the prompt text itself.

Presets and the files written by `ttm-ros prompt` share one YAML format. It is a
mapping with the required key `prompt` (the text) and two optional keys:
`description` (what the prompt is for) and `provenance` (how it was made: meta-prompt,
model, endpoint host, creation time, hashes of the example images).

`load_task` and `build_meta_prompt` render a task description (YAML) into the
meta-prompt that asks a multimodal LLM to write such a prompt. Nothing here touches
the network; `ttm_ros.core.mllm_client` sends the meta-prompt.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import hashlib
import pathlib
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.paths import share_dir

#: Preset used when `translator.prompt` is not set.
DEFAULT_PRESET = 'clear_day_driving'

PROMPT_FILE_SUFFIXES = ('.yaml', '.yml')
PROMPT_FILE_KEYS = ('prompt', 'description', 'provenance')
PRESET_NAME = re.compile(r'^[A-Za-z0-9_-]+$')

#: Image types that chat-completions servers accept as data URLs, by leading bytes.
IMAGE_SIGNATURES = {b'\x89PNG\r\n\x1a\n': 'image/png', b'\xff\xd8\xff': 'image/jpeg'}
#: Largest example image that is sent to the LLM.
# NOTE: an estimate of what servers accept; each server sets its own request size limit.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


# ----------------------------------------------------------------- prompt files
@dataclasses.dataclass
class PromptRecord:
    """Contents of a prompt file: the prompt text and where it came from."""

    prompt: str
    description: str = ''
    provenance: Dict[str, Any] = dataclasses.field(default_factory=dict)


def read_prompt_file(path: pathlib.Path) -> PromptRecord:
    """Read a prompt file. Raise ConfigurationError naming the file and the problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigurationError(f'prompt file {path} cannot be read: {error}') from error
    if not isinstance(document, dict):
        raise ConfigurationError(
            f'prompt file {path} must contain a YAML mapping with the key prompt')
    unknown = sorted(set(document) - set(PROMPT_FILE_KEYS))
    if unknown:
        raise ConfigurationError(
            f'prompt file {path} has unknown key(s) {", ".join(map(str, unknown))}; '
            f'valid keys are {", ".join(PROMPT_FILE_KEYS)}')
    prompt = document.get('prompt')
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigurationError(f'prompt file {path} has no prompt text under the key prompt')
    provenance = document.get('provenance') or {}
    if not isinstance(provenance, dict):
        raise ConfigurationError(f'prompt file {path}: provenance must be a mapping')
    return PromptRecord(prompt.strip(), str(document.get('description') or '').strip(), provenance)


def write_prompt_file(path: pathlib.Path, record: PromptRecord) -> None:
    """Write `record` as a prompt file, with multi-line text in YAML block style."""
    document: Dict[str, Any] = {'prompt': record.prompt}
    if record.description:
        document['description'] = record.description
    if record.provenance:
        document['provenance'] = record.provenance
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(document, Dumper=_BlockTextDumper, sort_keys=False,
                              allow_unicode=True, width=100), encoding='utf-8')


class _BlockTextDumper(yaml.SafeDumper):
    """SafeDumper that writes strings containing newlines as `|` blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '|' if '\n' in text else None
    return dumper.represent_scalar('tag:yaml.org,2002:str', text, style=style)


_BlockTextDumper.add_representer(str, _represent_text)


# ---------------------------------------------------------------------- presets
def preset_folder() -> pathlib.Path:
    """Return the folder of the shipped presets, `<share>/config/prompts`."""
    return share_dir() / 'config' / 'prompts'


def list_presets() -> List[str]:
    """Return the names of the shipped presets, sorted."""
    return sorted(path.stem for path in preset_folder().glob('*.yaml'))


@functools.lru_cache(maxsize=None)
def load_preset(name: str) -> str:
    """Return the prompt text of the preset `name`.

    Raise ConfigurationError, listing the presets, when there is none of that name.
    """
    path = preset_folder() / f'{name}.yaml'
    if not PRESET_NAME.match(name) or not path.is_file():
        raise ConfigurationError(
            f'no prompt preset named {name!r} in {preset_folder()}; use one of '
            f'{", ".join(list_presets()) or "(none)"}, a prompt file ending in .yaml, or '
            'the prompt text itself (text contains spaces)')
    return read_prompt_file(path).prompt


def default_prompt() -> str:
    """Return the text of the default preset."""
    return load_preset(DEFAULT_PRESET)


def resolve_prompt(value: str) -> str:
    """Return the prompt text for a preset name, prompt file path or literal text.

    The rule is in the module docstring. Raise ConfigurationError when the value is
    empty, the file is missing or invalid, or the preset does not exist.
    """
    value = value.strip()
    if not value:
        raise ConfigurationError(
            f'translator.prompt is empty; use a preset ({", ".join(list_presets())}), a '
            'prompt file ending in .yaml, or the prompt text')
    if value.lower().endswith(PROMPT_FILE_SUFFIXES):
        path = pathlib.Path(value).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f'prompt file {path} not found; give an existing file (ttm-ros prompt writes '
                'one) or a preset name')
        return read_prompt_file(path).prompt
    if not any(character.isspace() for character in value):
        return load_preset(value)
    return value


def prompt_problem(value: Any) -> Optional[str]:
    """Return why `value` cannot be resolved to a prompt, or None when it can."""
    try:
        resolve_prompt(value)
    except ConfigurationError as error:
        return str(error)
    return None


def describe_prompt_value(value: str) -> str:
    """Return a short label of a prompt value for logs: preset, file or text length."""
    value = value.strip()
    if value.lower().endswith(PROMPT_FILE_SUFFIXES):
        return f'prompt file {value}'
    if not any(character.isspace() for character in value):
        return f'preset {value}'
    return f'prompt text ({len(value)} characters)'


# ------------------------------------------------------------ task descriptions
@dataclasses.dataclass(frozen=True)
class SourceImage:
    """An example image of the source domain, read from disk."""

    path: str
    data: bytes
    mime_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        """Return the image as a base64 `data:` URL for a chat-completions request."""
        return f'data:{self.mime_type};base64,{base64.b64encode(self.data).decode("ascii")}'


@dataclasses.dataclass(frozen=True)
class TaskDescription:
    """Goal and constraints of a source-domain prompt, as read from a task YAML file.

    Required: `task` (the downstream perception task), `editor` (the editing model
    that will receive the prompt), `objective`, `domain_context`, `expected_shifts`
    and `preserve`. Optional: `editor_guidelines` (how that editor wants to be
    prompted), `max_words` (length limit of the answer) and `images` (examples of the
    source domain, paths relative to the task file).
    """

    task: str
    editor: str
    objective: str
    domain_context: str
    expected_shifts: Sequence[str]
    preserve: Sequence[str]
    editor_guidelines: Sequence[str] = ()
    max_words: Optional[int] = None
    images: Sequence[SourceImage] = ()


TEXT_FIELDS = ('task', 'editor', 'objective', 'domain_context')
LIST_FIELDS = ('expected_shifts', 'preserve', 'editor_guidelines')
REQUIRED_FIELDS = TEXT_FIELDS + ('expected_shifts', 'preserve')
TASK_FIELDS = TEXT_FIELDS + LIST_FIELDS + ('max_words', 'images')


def load_task(path: pathlib.Path) -> TaskDescription:
    """Read and validate a task YAML file, and read its images.

    Raise ConfigurationError naming the file and the field that is missing, unknown
    or of the wrong type, or the image that cannot be used.
    """
    document = _read_task_document(path)
    fields: Dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in document:
            fields[name] = _text_field(path, name, document[name])
    for name in LIST_FIELDS:
        if name in document:
            fields[name] = _list_field(path, name, document[name])
    if 'max_words' in document:
        fields['max_words'] = _max_words(path, document['max_words'])
    image_paths = _list_field(path, 'images', document.get('images') or [])
    fields['images'] = tuple(read_source_image(path.parent, entry) for entry in image_paths)
    return TaskDescription(**fields)


def _read_task_document(path: pathlib.Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigurationError(f'task file {path} cannot be read: {error}') from error
    if not isinstance(document, dict):
        raise ConfigurationError(f'task file {path} must contain a YAML mapping of fields')
    unknown = sorted(set(map(str, document)) - set(TASK_FIELDS))
    if unknown:
        raise ConfigurationError(
            f'task file {path} has unknown field(s) {", ".join(unknown)}; valid fields are '
            f'{", ".join(TASK_FIELDS)}')
    missing = [name for name in REQUIRED_FIELDS if document.get(name) in (None, '', [])]
    if missing:
        raise ConfigurationError(
            f'task file {path} is missing the required field(s) {", ".join(missing)}; add them')
    return document


def _text_field(path: pathlib.Path, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f'task file {path}: {name} must be non-empty text, got {value!r}')
    return ' '.join(value.split())


def _list_field(path: pathlib.Path, name: str, value: Any) -> tuple:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigurationError(
            f'task file {path}: {name} must be text or a list of non-empty texts, got {value!r}')
    return tuple(' '.join(item.split()) for item in items)


def _max_words(path: pathlib.Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f'task file {path}: max_words must be a positive integer, '
                                 f'got {value!r}')
    return value


def read_source_image(folder: pathlib.Path, entry: str) -> SourceImage:
    """Read the PNG or JPEG file `entry` (relative to `folder` unless absolute)."""
    path = (folder / pathlib.Path(entry).expanduser())
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f'source-domain image {path} cannot be read: {error}') from error
    if len(data) > MAX_IMAGE_BYTES:
        raise ConfigurationError(
            f'source-domain image {path} has {len(data)} bytes, above the limit of '
            f'{MAX_IMAGE_BYTES}; downscale it or save it as JPEG')
    mime_type = next((mime for signature, mime in IMAGE_SIGNATURES.items()
                      if data.startswith(signature)), None)
    if mime_type is None:
        raise ConfigurationError(
            f'source-domain image {path} is not a PNG or JPEG file; convert it to one of these')
    return SourceImage(entry, data, mime_type)


# ------------------------------------------------------------------ meta-prompt
def build_meta_prompt(task: TaskDescription) -> str:
    """Render the meta-prompt, the request to a multimodal LLM for the source-domain prompt.

    Each section appears only when its field is set, so an optional field that is
    missing leaves no trace in the text.
    """
    sections = [
        'You write the one text prompt that an image-editing model receives, unchanged, '
        f'for every camera frame of this system: {task.task}. The editor turns each frame '
        'into an image of the source domain, the conditions the perception model was '
        'trained on, and the unchanged perception model then runs on the edited frame.',
        _section('Objective', task.objective),
        _section('Editing model', task.editor),
        _section('Domain context', task.domain_context),
        _section('Shifts the prompt must remove', _bullets(task.expected_shifts)),
        _section('What every edited frame must preserve', _bullets(task.preserve)),
    ]
    if task.editor_guidelines:
        sections.append(_section('Prompting guidelines of the editing model',
                                 _bullets(task.editor_guidelines)))
    if task.images:
        sections.append(_section(
            'Source-domain examples',
            f'The {len(task.images)} attached image(s) show the source domain. Describe '
            'their lighting, weather and look in general terms, never their particular '
            'content, because the prompt is used for frames of other scenes.'))
    sections.append(_section('Answer format', _answer_rules(task.max_words)))
    return '\n\n'.join(sections) + '\n'


def _section(title: str, body: str) -> str:
    return f'## {title}\n{body}'


def _bullets(items: Sequence[str]) -> str:
    return '\n'.join(f'- {item}' for item in items)


def _answer_rules(max_words: Optional[int]) -> str:
    rules = [
        'Reply with the prompt only: plain text in one paragraph, without quotes, headings, '
        'alternatives or explanations.',
        'Write it as an instruction to the editing model that names what must change and '
        'what must stay exactly as it is.',
        'Do not mention any particular frame or object instance; the same prompt is used '
        'for every frame.',
    ]
    if max_words is not None:
        rules.append(f'Use at most {max_words} words.')
    return _bullets(rules)


def provenance(meta_prompt: str, model: str, endpoint_host: str, task_path: pathlib.Path,
               images: Sequence[SourceImage],
               created: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """Return the provenance mapping of a generated prompt file."""
    created = created or datetime.datetime.now(datetime.timezone.utc)
    return {
        'meta_prompt': meta_prompt,
        'model': model,
        'endpoint_host': endpoint_host,
        'created': created.replace(microsecond=0).isoformat(),
        'task_file': str(task_path),
        'images': [{'path': image.path, 'sha256': image.sha256} for image in images],
    }
