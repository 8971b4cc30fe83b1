"""Parameter table, validation and the generated reference page."""

import pytest

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.parameters import NODE_PARAMETERS, defaults, settings_from_values, validate
from ttm_ros.paths import SOURCE_ROOT
from ttm_ros.reference import render_reference


def test_every_parameter_is_described():
    undocumented = [spec.name for spec in NODE_PARAMETERS if not spec.description.strip()]
    assert undocumented == []


def test_parameter_names_are_unique():
    names = [spec.name for spec in NODE_PARAMETERS]
    assert len(names) == len(set(names))


def test_defaults_build_settings():
    settings = settings_from_values({})
    assert settings.translator_name == 'classical'
    assert settings.segmenter_name == 'onnx'
    assert settings['fusion.weight'] == 0.5


def test_values_reach_backend_settings():
    settings = settings_from_values({'translator.name': 'flux2-klein', 'translator.steps': 4,
                                     'translator.max_pixels': 500_000, 'segmenter.model': 'm.onnx'})
    assert settings.translator.steps == 4
    assert settings.translator.max_pixels == 500_000
    assert settings.segmenter.model == 'm.onnx'


@pytest.mark.parametrize('name, value, fragment', [
    ('fusion.weight', 1.5, 'above the maximum'),
    ('fusion.weight', -0.1, 'below the minimum'),
    ('input.transport', 'theora', 'choose one of'),
    ('input.qos.depth', 0, 'below the minimum'),
    ('input.qos.depth', 'ten', 'must be a int'),
    ('output.overlay', 1, 'must be a bool'),
])
def test_invalid_value_names_parameter(name, value, fragment):
    with pytest.raises(ConfigurationError) as error:
        settings_from_values({name: value})
    assert name in str(error.value)
    assert fragment in str(error.value)


def test_unknown_parameter_rejected():
    with pytest.raises(ConfigurationError, match='fusion.wieght'):
        settings_from_values({'fusion.wieght': 0.5})


def test_integer_accepted_for_double():
    assert validate('fusion.weight', 1) is None


def test_defaults_are_valid():
    problems = {name: validate(name, value) for name, value in defaults().items()}
    assert {name: p for name, p in problems.items() if p} == {}


def test_reference_page_matches_code():
    page = SOURCE_ROOT / 'docs' / 'reference.md'
    assert page.read_text() == render_reference(), 'run `ttm-ros docs` and commit docs/reference.md'


def test_reference_lists_every_parameter():
    text = render_reference()
    missing = [spec.name for spec in NODE_PARAMETERS if f'`{spec.name}`' not in text]
    assert missing == []
