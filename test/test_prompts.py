"""Presets, prompt files, the resolution rule of translator.prompt and the meta-prompt."""

import datetime
import hashlib
import pathlib

import cv2
import numpy as np
import pytest
import yaml

from ttm_ros.core import prompts
from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.parameters import NODE_PARAMETERS, settings_from_values, validate
from ttm_ros.core.translators.base import TranslatorSettings
from ttm_ros.paths import SOURCE_ROOT

EXAMPLE_TASK = SOURCE_ROOT / 'config' / 'prompts' / 'tasks' / 'driving_segmentation.yaml'

FULL_TASK = {
    'task': 'lane-level semantic segmentation for a delivery robot',
    'editor': 'Qwen-Image-Edit-2509 with the Lightning LoRA',
    'objective': 'make each frame look like the overcast-noon training set',
    'domain_context': 'sidewalk robot in Oslo, camera 0.6 m above ground',
    'expected_shifts': ['polar night darkness', 'slush on the sidewalk'],
    'preserve': ['curbs and their height', 'pedestrians and their poses'],
    'editor_guidelines': ['start with a verb', 'name the preserved content last'],
    'max_words': 42,
}


def write_png(path: pathlib.Path, value: int) -> bytes:
    ok, data = cv2.imencode('.png', np.full((8, 8, 3), value, np.uint8))
    assert ok
    path.write_bytes(data.tobytes())
    return data.tobytes()


def write_task(folder: pathlib.Path, fields: dict) -> pathlib.Path:
    path = folder / 'task.yaml'
    path.write_text(yaml.safe_dump(fields))
    return path


def test_presets_shipped_and_distinct():
    assert {'clear_day_driving', 'realistic_photo'} <= set(prompts.list_presets())
    driving = prompts.load_preset('clear_day_driving')
    photo = prompts.load_preset('realistic_photo')
    assert driving != photo
    for text in (driving, photo):
        assert 20 <= len(text.split()) <= 60
    for word in ('night', 'fog', 'rain', 'snow', 'glare', 'lens', 'dry road', 'camera angle'):
        assert word in driving
    assert 'photograph' in photo


def test_default_prompt_is_preset_text():
    preset_text = prompts.load_preset(prompts.DEFAULT_PRESET)
    assert TranslatorSettings().prompt == preset_text
    spec = next(s for s in NODE_PARAMETERS if s.name == 'translator.prompt')
    assert spec.default == prompts.DEFAULT_PRESET
    assert spec.dynamic
    assert settings_from_values({}).translator.prompt == preset_text


def test_resolve_preset_file_and_text(tmp_path):
    path = tmp_path / 'mine.yaml'
    prompts.write_prompt_file(path, prompts.PromptRecord('Make it noon on a dry day.'))
    assert prompts.resolve_prompt('realistic_photo') == prompts.load_preset('realistic_photo')
    assert prompts.resolve_prompt(str(path)) == 'Make it noon on a dry day.'
    assert prompts.resolve_prompt('  a sunny day, keep the cars  ') == 'a sunny day, keep the cars'
    settings = settings_from_values({'translator.prompt': str(path)})
    assert settings.translator.prompt == 'Make it noon on a dry day.'
    assert settings['translator.prompt'] == str(path)


@pytest.mark.parametrize('value, fragments', [
    ('/nonexistent/folder/prompt.yaml', ['/nonexistent/folder/prompt.yaml', 'not found']),
    ('missing.YML', ['missing.YML', 'not found']),
    ('clear_night_driving', ["'clear_night_driving'", 'clear_day_driving', 'realistic_photo']),
    ('../cpu', ["'../cpu'", 'no prompt preset']),
    ('   ', ['empty']),
])
def test_unresolvable_prompt_names_value(value, fragments):
    with pytest.raises(ConfigurationError) as error:
        prompts.resolve_prompt(value)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_invalid_prompt_parameter_rejected():
    problem = validate('translator.prompt', 'nowhere/prompt.yaml')
    assert problem is not None
    assert problem.startswith('translator.prompt: ')
    assert 'nowhere/prompt.yaml' in problem
    with pytest.raises(ConfigurationError, match='translator.prompt'):
        settings_from_values({'translator.prompt': 'no_such_preset'})
    assert validate('translator.prompt', 'realistic_photo') is None


def test_prompt_file_round_trip(tmp_path):
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone.utc)
    image = prompts.SourceImage('examples/day.png', b'\x89PNG\r\n\x1a\nxyz', 'image/png')
    record = prompts.PromptRecord('Line one.\nLine two.', provenance=prompts.provenance(
        'meta\nprompt', 'qwen2.5-vl', '127.0.0.1:8000', pathlib.Path('task.yaml'), [image],
        created=created))
    path = tmp_path / 'sub' / 'prompt.yaml'
    prompts.write_prompt_file(path, record)
    assert 'prompt: |' in path.read_text()
    loaded = prompts.read_prompt_file(path)
    assert loaded.prompt == 'Line one.\nLine two.'
    assert loaded.provenance['meta_prompt'] == 'meta\nprompt'
    assert loaded.provenance['model'] == 'qwen2.5-vl'
    assert loaded.provenance['endpoint_host'] == '127.0.0.1:8000'
    assert loaded.provenance['created'] == '2026-01-02T03:04:05+00:00'
    assert loaded.provenance['images'] == [
        {'path': 'examples/day.png', 'sha256': hashlib.sha256(image.data).hexdigest()}]


@pytest.mark.parametrize('content, fragment', [
    ('prompt: ok text\npromt: typo\n', 'promt'),
    ('description: no prompt here\n', 'no prompt text'),
    ('- a\n- list\n', 'YAML mapping'),
    ('prompt: [unclosed\n', 'cannot be read'),
])
def test_invalid_prompt_file_rejected(tmp_path, content, fragment):
    path = tmp_path / 'bad.yaml'
    path.write_text(content)
    with pytest.raises(ConfigurationError) as error:
        prompts.read_prompt_file(path)
    assert str(path) in str(error.value)
    assert fragment in str(error.value)


def test_builder_contains_every_given_field(tmp_path):
    png = write_png(tmp_path / 'day.png', 200)
    task_path = write_task(tmp_path, {**FULL_TASK, 'images': ['day.png']})
    task = prompts.load_task(task_path)
    text = prompts.build_meta_prompt(task)
    for name, value in FULL_TASK.items():
        for item in value if isinstance(value, list) else [value]:
            assert str(item) in text, name
    assert 'Source-domain examples' in text
    assert 'The 1 attached image(s)' in text
    assert task.images[0].sha256 == hashlib.sha256(png).hexdigest()
    assert task.images[0].mime_type == 'image/png'
    assert task.images[0].data_url().startswith('data:image/png;base64,iVBORw0KGgo')


def test_builder_omits_missing_optional_fields(tmp_path):
    required = {name: FULL_TASK[name] for name in prompts.REQUIRED_FIELDS}
    text = prompts.build_meta_prompt(prompts.load_task(write_task(tmp_path, required)))
    for value in required.values():
        for item in value if isinstance(value, list) else [value]:
            assert item in text
    for absent in ('Prompting guidelines', 'start with a verb', 'Source-domain examples',
                   'attached', 'at most', '42'):
        assert absent not in text


def test_example_task_renders():
    task = prompts.load_task(EXAMPLE_TASK)
    text = prompts.build_meta_prompt(task)
    assert 'FLUX.2 klein' in text
    assert 'Use at most 60 words.' in text
    assert task.images == ()


@pytest.mark.parametrize('change, fragment', [
    ({'editr': 'typo'}, 'editr'),
    ({'objective': None}, 'objective'),
    ({'preserve': []}, 'preserve'),
    ({'expected_shifts': [1, 2]}, 'expected_shifts'),
    ({'max_words': 0}, 'max_words'),
    ({'images': ['missing.png']}, 'missing.png'),
    ({'images': ['notes.txt']}, 'not a PNG or JPEG'),
])
def test_invalid_task_names_field(tmp_path, change, fragment):
    (tmp_path / 'notes.txt').write_text('not an image')
    fields = {**FULL_TASK, **change}
    fields = {name: value for name, value in fields.items() if value is not None}
    with pytest.raises(ConfigurationError) as error:
        prompts.load_task(write_task(tmp_path, fields))
    assert fragment in str(error.value)


def test_describe_prompt_value():
    assert prompts.describe_prompt_value('realistic_photo') == 'preset realistic_photo'
    assert prompts.describe_prompt_value('out/p.yaml') == 'prompt file out/p.yaml'
    assert prompts.describe_prompt_value('a b c') == 'prompt text (5 characters)'
