"""Tests of the diffusers editing translators with tiny random pipelines on the CPU.

The pipelines are real diffusers classes with tiny seeded weights, written with
`save_pretrained` and loaded by the translators through `from_pretrained`.
"""

import numpy as np
import PIL.Image
import pytest
import torch

import tiny_editors
from ttm_ros.core.errors import ConfigurationError, FrameError, TranslationRejected
from ttm_ros.core.sizing import from_working, to_working
from ttm_ros.core.translators import build_translator
from ttm_ros.core.translators.base import TranslatorSettings
from ttm_ros.core.translators.diffusers_common import to_uint8
from ttm_ros.core.translators.flux2_klein import Flux2KleinTranslator
from ttm_ros.core.translators.kontext import KontextTranslator
from ttm_ros.core.translators.prompt_cache import PromptEmbeddingCache
from ttm_ros.core.translators.qwen_edit import QwenEditTranslator

ODD_SHAPES = [(75, 100, 3), (67, 129, 3)]
CACHED_BACKENDS = {'flux2-klein': Flux2KleinTranslator, 'kontext': KontextTranslator}

@pytest.fixture(scope='module')
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp('editors')
    qwen = tiny_editors.save_tiny_qwen_edit_plus(root / 'qwen')
    return {'flux2-klein': tiny_editors.save_tiny_flux2_klein(root / 'klein'),
            'kontext': tiny_editors.save_tiny_kontext(root / 'kontext'),
            'qwen-edit': qwen,
            'qwen-lora': tiny_editors.save_tiny_qwen_lora(qwen, root / 'lora')}

@pytest.fixture
def small_qwen_reference(monkeypatch):
    """Shrink the reference sizes of the Qwen pipeline (about 1 MP and 384x384)."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus
    monkeypatch.setattr(pipeline_qwenimage_edit_plus, 'VAE_IMAGE_SIZE', 64 * 64)
    monkeypatch.setattr(pipeline_qwenimage_edit_plus, 'CONDITION_IMAGE_SIZE', 56 * 56)

def frame_of(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)

def settings_for(models, backend, tmp_path, **changes):
    changes.setdefault('steps', 2)
    return TranslatorSettings(model=str(models[backend]), cache_dir=str(tmp_path / 'cache'),
                              **changes)

def build(models, backend, tmp_path, **changes):
    settings = settings_for(models, backend, tmp_path, **changes)
    if backend == 'qwen-edit':
        processor = tiny_editors.load_image_only_processor(models['qwen-edit'])
        return QwenEditTranslator(settings, components={'processor': processor})
    return CACHED_BACKENDS[backend](settings)

def cache_files(tmp_path):
    return sorted((tmp_path / 'cache').glob('*.safetensors'))

@pytest.mark.parametrize('backend', ['flux2-klein', 'kontext', 'qwen-edit'])
@pytest.mark.parametrize('shape', ODD_SHAPES)
def test_editor_output_matches_input_shape(models, tmp_path, small_qwen_reference, backend,
                                           shape):
    translator = build(models, backend, tmp_path)
    translated = translator.translate(frame_of(shape))
    assert translated.shape == shape
    assert translated.dtype == np.uint8
    assert translated.flags['C_CONTIGUOUS']

@pytest.mark.parametrize('backend', ['flux2-klein', 'kontext', 'qwen-edit'])
def test_editor_deterministic_per_seed(models, tmp_path, small_qwen_reference, backend):
    frame = frame_of(ODD_SHAPES[0])
    translator = build(models, backend, tmp_path)
    first = translator.translate(frame)
    np.testing.assert_array_equal(translator.translate(frame), first)
    np.testing.assert_array_equal(build(models, backend, tmp_path).translate(frame), first)
    other_seed = build(models, backend, tmp_path, seed=1).translate(frame)
    assert not np.array_equal(other_seed, first)

@pytest.mark.parametrize('backend', sorted(CACHED_BACKENDS))
def test_cached_embedding_matches_uncached_call(models, tmp_path, backend):
    import diffusers

    frame = frame_of(ODD_SHAPES[1])
    translator = build(models, backend, tmp_path)
    translated = translator.translate(frame)

    # The same edit through the pipeline's own prompt encoding.
    pipeline_class = getattr(diffusers, translator.pipeline_class_name)
    pipeline = pipeline_class.from_pretrained(models[backend])
    pipeline.set_progress_bar_config(disable=True)
    height, width = translator.working_size(*frame.shape[:2])
    size_arguments = ({'max_area': height * width, '_auto_resize': False}
                      if backend == 'kontext' else {})
    images = pipeline(image=PIL.Image.fromarray(to_working(frame, (height, width))),
                      prompt=translator.settings.prompt, height=height, width=width,
                      num_inference_steps=2, guidance_scale=translator.guidance_scale,
                      generator=torch.Generator().manual_seed(0), output_type='np',
                      **size_arguments).images
    expected = from_working(to_uint8(images[0]), *frame.shape[:2])
    np.testing.assert_array_equal(translated, expected)

@pytest.mark.parametrize('backend', sorted(CACHED_BACKENDS))
def test_prompt_cache_written_once_and_reused(models, tmp_path, backend):
    frame = frame_of(ODD_SHAPES[0])
    first = build(models, backend, tmp_path)
    for name in first.text_components:
        assert getattr(first.pipeline, name) is None
    files = cache_files(tmp_path)
    assert len(files) == 1
    written = files[0].stat().st_mtime_ns

    second = build(models, backend, tmp_path)
    assert second.pipeline.text_encoder is None
    assert cache_files(tmp_path) == files
    assert files[0].stat().st_mtime_ns == written
    np.testing.assert_array_equal(second.translate(frame), first.translate(frame))

@pytest.mark.parametrize('backend', sorted(CACHED_BACKENDS))
def test_set_prompt_changes_output_and_caches(models, tmp_path, backend):
    frame = frame_of(ODD_SHAPES[0])
    translator = build(models, backend, tmp_path)
    before = translator.translate(frame)
    translator.set_prompt('a photo at noon')
    after = translator.translate(frame)
    assert not np.array_equal(before, after)
    assert len(cache_files(tmp_path)) == 2
    assert translator.pipeline.text_encoder is None
    assert translator.settings.prompt == 'a photo at noon'

    # A new translator with that prompt loads it from the cache and agrees.
    again = build(models, backend, tmp_path, prompt='a photo at noon')
    assert len(cache_files(tmp_path)) == 2
    np.testing.assert_array_equal(again.translate(frame), after)

def test_qwen_set_prompt_changes_output(models, tmp_path, small_qwen_reference):
    frame = frame_of(ODD_SHAPES[0])
    translator = build(models, 'qwen-edit', tmp_path)
    before = translator.translate(frame)
    translator.set_prompt('a photo at noon')
    assert not np.array_equal(translator.translate(frame), before)
    assert cache_files(tmp_path) == []

def _poison_decoder(monkeypatch, vae, value):
    original = vae.decode

    def decode(*arguments, **keywords):
        decoded = original(*arguments, **keywords)
        return (torch.full_like(decoded[0], value),) + tuple(decoded[1:])

    monkeypatch.setattr(vae, 'decode', decode)

@pytest.mark.parametrize('backend', ['flux2-klein', 'kontext', 'qwen-edit'])
def test_nan_output_rejected(models, tmp_path, small_qwen_reference, monkeypatch, backend):
    translator = build(models, backend, tmp_path)
    _poison_decoder(monkeypatch, translator.pipeline.vae, float('nan'))
    with pytest.raises(TranslationRejected, match='NaN'):
        translator.translate(frame_of(ODD_SHAPES[0]))

def test_black_output_rejected(models, tmp_path, monkeypatch):
    translator = build(models, 'flux2-klein', tmp_path)
    _poison_decoder(monkeypatch, translator.pipeline.vae, -1.0)
    with pytest.raises(TranslationRejected, match='all black'):
        translator.translate(frame_of(ODD_SHAPES[0]))

@pytest.mark.parametrize('backend', sorted(CACHED_BACKENDS))
def test_float16_rejected(models, tmp_path, backend):
    with pytest.raises(ConfigurationError, match='float16'):
        build(models, backend, tmp_path, dtype='float16')

def test_missing_model_rejected(tmp_path):
    with pytest.raises(ConfigurationError, match='translator.model'):
        Flux2KleinTranslator(TranslatorSettings())
    with pytest.raises(ConfigurationError, match='cannot load Flux2KleinPipeline'):
        Flux2KleinTranslator(TranslatorSettings(model=str(tmp_path / 'missing'),
                                                cache_dir=str(tmp_path)))

def test_unknown_device_rejected(models, tmp_path):
    with pytest.raises(ConfigurationError, match='device'):
        build(models, 'flux2-klein', tmp_path, device='tpu')

def test_tiny_frame_raises_frame_error(models, tmp_path):
    translator = build(models, 'flux2-klein', tmp_path)
    with pytest.raises(FrameError, match='too small'):
        translator.translate(frame_of((4, 4, 3)))

def test_klein_working_size_capped_at_one_megapixel(models, tmp_path):
    translator = build(models, 'flux2-klein', tmp_path, max_pixels=4096 * 4096)
    assert translator.working_size(1080, 1920) == (768, 1360)
    assert translator.working_size(1024, 2048) == (720, 1440)

def test_backend_defaults(models, tmp_path, small_qwen_reference):
    settings = dict(steps=0, guidance_scale=0.0)
    klein = build(models, 'flux2-klein', tmp_path, **settings)
    assert (klein.steps, klein.guidance_scale) == (4, 1.0)
    kontext = build(models, 'kontext', tmp_path, **settings)
    assert (kontext.steps, kontext.guidance_scale) == (28, 2.5)
    qwen = build(models, 'qwen-edit', tmp_path, **settings)
    assert (qwen.steps, qwen.guidance_scale) == (50, 4.0)
    qwen_lora = build(models, 'qwen-edit', tmp_path, lora_path=str(models['qwen-lora']),
                      **settings)
    assert (qwen_lora.steps, qwen_lora.guidance_scale) == (8, 1.0)

def test_qwen_lora_changes_output(models, tmp_path, small_qwen_reference):
    frame = frame_of(ODD_SHAPES[0])
    plain = build(models, 'qwen-edit', tmp_path, guidance_scale=1.0).translate(frame)
    with_lora = build(models, 'qwen-edit', tmp_path, guidance_scale=1.0,
                      lora_path=str(models['qwen-lora'])).translate(frame)
    assert not np.array_equal(with_lora, plain)

def test_qwen_missing_lora_rejected(models, tmp_path):
    with pytest.raises(ConfigurationError, match='lora_path'):
        build(models, 'qwen-edit', tmp_path, lora_path=str(tmp_path / 'missing.safetensors'))

def test_cache_key_complete(models, tmp_path):
    translator = build(models, 'flux2-klein', tmp_path)
    key = translator.cache_key()
    for field in ('name', 'model', 'prompt', 'steps', 'guidance_scale', 'seed', 'max_pixels',
                  'min_side', 'multiple', 'dtype', 'device'):
        assert field in key
    assert key['name'] == 'flux2-klein'
    assert key['steps'] == 2
    assert key['dtype'] == 'float32'
    translator.set_prompt('a photo at noon')
    assert translator.cache_key()['prompt'] == 'a photo at noon'

def test_describe_and_close(models, tmp_path):
    translator = build(models, 'kontext', tmp_path)
    line = translator.describe()
    assert '\n' not in line
    assert 'FluxKontextPipeline' in line
    assert 'cpu' in line
    translator.close()
    assert translator.pipeline is None
    with pytest.raises(RuntimeError, match='closed'):
        translator.translate(frame_of(ODD_SHAPES[0]))

def test_registry_builds_editor(models, tmp_path):
    settings = settings_for(models, 'flux2-klein', tmp_path)
    assert isinstance(build_translator('flux2-klein', settings), Flux2KleinTranslator)

def test_unreadable_cache_file_ignored(models, tmp_path):
    first = build(models, 'flux2-klein', tmp_path)
    [path] = cache_files(tmp_path)
    path.write_bytes(b'not a safetensors file')
    second = build(models, 'flux2-klein', tmp_path)
    frame = frame_of(ODD_SHAPES[0])
    np.testing.assert_array_equal(second.translate(frame), first.translate(frame))
    assert PromptEmbeddingCache(str(tmp_path / 'cache')).load(path.stem) is not None

def test_cache_key_depends_on_prompt_and_dtype(tmp_path):
    cache = PromptEmbeddingCache(str(tmp_path))
    base = cache.key('model', 'Flux2KleinPipeline', 'prompt', torch.float32)
    assert cache.key('model', 'Flux2KleinPipeline', 'other', torch.float32) != base
    assert cache.key('model', 'Flux2KleinPipeline', 'prompt', torch.bfloat16) != base
    assert cache.key('model2', 'Flux2KleinPipeline', 'prompt', torch.float32) != base


@pytest.mark.parametrize('backend', ['flux2-klein', 'kontext'])
def test_batch_matches_single_calls(models, tmp_path, backend):
    """Three same-size frames in one denoising loop equal three single edits."""
    translator = build(models, backend, tmp_path, seed=3)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(3)]
    frames.append(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8))  # a second working size
    batched = translator.translate_batch(frames)
    for frame, result in zip(frames, batched):
        single = translator.translate(frame)
        assert result.shape == frame.shape
        assert np.abs(result.astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize('backend', ['flux2-klein', 'kontext'])
def test_batch_loop_runs_once_per_size(models, tmp_path, monkeypatch, backend):
    translator = build(models, backend, tmp_path)
    calls = []
    original = translator.pipeline.transformer.forward

    def counting_forward(*args, **kwargs):
        calls.append(kwargs['hidden_states'].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(translator.pipeline.transformer, 'forward', counting_forward)
    frames = [np.full((64, 96, 3), value, np.uint8) for value in (40, 90, 140)]
    translator.translate_batch(frames)
    assert calls == [3] * translator.steps


def test_speed_options_keep_output(models, tmp_path):
    """Attention backend and channels-last VAE leave the edit unchanged on the CPU."""
    frame = frame_of((64, 96, 3))
    plain = build(models, 'flux2-klein', tmp_path).translate(frame)
    tuned = build(models, 'flux2-klein', tmp_path, attention_backend='native',
                  channels_last=True).translate(frame)
    assert np.abs(plain.astype(int) - tuned.astype(int)).max() <= 1


@pytest.mark.parametrize('changes, fragment', [
    ({'attention_backend': 'flash_hub'}, 'downloads a kernel'),
    ({'attention_backend': 'no_such_backend'}, 'cannot be used'),
    ({'cpu_offload': 'model'}, 'needs a CUDA device'),
    ({'warmup_sizes': '1280by720'}, 'WIDTHxHEIGHT'),
])
def test_invalid_speed_option_rejected(models, tmp_path, changes, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        build(models, 'flux2-klein', tmp_path, **changes)


def test_warmup_translates_each_size(models, tmp_path, monkeypatch):
    sizes = []
    original = CACHED_BACKENDS['flux2-klein'].translate

    def recording_translate(self, rgb):
        sizes.append(rgb.shape[:2])
        return original(self, rgb)

    monkeypatch.setattr(CACHED_BACKENDS['flux2-klein'], 'translate', recording_translate)
    build(models, 'flux2-klein', tmp_path, warmup_sizes='96x64, 80x80')
    assert sizes == [(64, 96), (80, 80)]


@pytest.mark.slow
def test_compiled_editor_matches_eager(models, tmp_path):
    frame = frame_of((64, 96, 3))
    eager = build(models, 'flux2-klein', tmp_path).translate(frame)
    compiled = build(models, 'flux2-klein', tmp_path, compile=True, warmup_sizes='96x64').translate(frame)
    assert np.abs(eager.astype(int) - compiled.astype(int)).max() <= 2


def test_gpu_memory_check_rejects_oversized_model(models, tmp_path):
    from ttm_ros.core.translators.diffusers_common import check_gpu_memory
    settings = TranslatorSettings(model=str(models['flux2-klein']))
    check_gpu_memory(settings, torch.device('cuda'), free_bytes=64 * 2**30)
    with pytest.raises(ConfigurationError, match='GiB of GPU memory'):
        check_gpu_memory(settings, torch.device('cuda'), free_bytes=2**30)
