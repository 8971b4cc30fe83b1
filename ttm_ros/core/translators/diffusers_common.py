"""Shared base of the diffusers editing translators (flux2-klein, kontext, qwen-edit).

It owns everything that does not depend on the model family:
- device and dtype choice (`auto`: CUDA with bfloat16 when available, else CPU with
  float32);
- loading with `from_pretrained` from a hub id or a local folder, safetensors only and
  never with remote code;
- the working size: the frame is resized to `sizing.pick_working_size` (multiples of
  the pipeline's block size, at most `max_pixels`), the pipeline gets that exact height
  and width, and the result is resized back to the frame's height and width;
- a CPU `torch.Generator` seeded with `settings.seed` for every frame, so the same
  frame gives the same output on every call;
- output validation: NaN, inf or an all-black image raises `TranslationRejected`;
- prompt embeddings computed once per (model, prompt, dtype) and cached on disk, after
  which the text encoders are released (subclasses with `text_components`).
"""

from __future__ import annotations

import abc
import gc
import logging
import math
import pathlib
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import PIL.Image
import torch

from ttm_ros.core.errors import ConfigurationError, TranslationRejected
from ttm_ros.core.sizing import from_working, pick_working_size, to_working
from ttm_ros.core.torch_device import resolve_torch_device
from ttm_ros.core.translators.base import Translator, TranslatorSettings, parse_sizes
from ttm_ros.core.translators.frames import validate_rgb_frame
from ttm_ros.core.translators.prompt_cache import PromptEmbeddingCache, model_identity

LOGGER = logging.getLogger(__name__)

DTYPES = {'bfloat16': torch.bfloat16, 'float32': torch.float32, 'float16': torch.float16}

#: An output whose every value is below this (on the [0, 1] scale) counts as all black.
BLACK_LEVEL = 1.0 / 255.0

Embeddings = Dict[str, torch.Tensor]


def resolve_dtype(requested: str, device: torch.device) -> torch.dtype:
    """Return the weights dtype: `auto` is bfloat16 on CUDA and float32 on the CPU."""
    if requested == 'auto':
        return torch.bfloat16 if device.type == 'cuda' else torch.float32
    if requested not in DTYPES:
        raise ConfigurationError(
            f'translator dtype={requested!r} is invalid; use auto, bfloat16, float32 or float16')
    return DTYPES[requested]


def validate_output(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Return the single (height, width, 3) image in `images` (float in [0, 1]).

    Raises:
        TranslationRejected: wrong shape, NaN or inf values, or an all-black image.
    """
    if images.shape != (1, height, width, 3):
        raise TranslationRejected(
            f'editor returned shape {images.shape}, expected (1, {height}, {width}, 3)')
    image = images[0]
    finite = np.isfinite(image)
    if not finite.all():
        raise TranslationRejected(
            f'editor output has {image.size - int(finite.sum())} NaN or inf values of '
            f'{image.size}; with float16 weights use bfloat16 or float32')
    if float(image.max()) < BLACK_LEVEL:
        raise TranslationRejected('editor output is all black (max below 1/255)')
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return a float [0, 1] image as rounded uint8."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def check_gpu_memory(settings: TranslatorSettings, device: torch.device,
                     skipped_components: Sequence[str] = (), free_bytes: Optional[int] = None) -> None:
    """Raise ConfigurationError when a local model clearly cannot fit on the GPU.

    The estimate is the size of the model folder's safetensors files (less the skipped
    components, such as a text encoder whose embedding is cached) plus 2 GiB for
    activations. It covers local folders only; a hub id is checked by the load itself.
    """
    folder = pathlib.Path(settings.model).expanduser()
    if device.type != 'cuda' or settings.cpu_offload != 'none' or not folder.is_dir():
        return
    needed = 2 * 2**30
    for path in folder.rglob('*.safetensors'):
        if path.relative_to(folder).parts[0] not in skipped_components:
            needed += path.stat().st_size
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    if needed > free_bytes:
        raise ConfigurationError(
            f'translator.model={settings.model!r} needs about {needed / 2**30:.1f} GiB of GPU '
            f'memory (weights plus 2 GiB), but {free_bytes / 2**30:.1f} GiB are free on {device}. '
            'Set translator.cpu_offload to model, lower translator.max_pixels, or free the GPU')


class DiffusersTranslator(Translator):
    """Base of the translators that run a diffusers image-editing pipeline."""

    uses_prompt = True
    #: Name of the diffusers pipeline class, imported from `diffusers` on load.
    pipeline_class_name: str = ''
    #: Example hub id for error messages.
    example_model: str = ''
    #: Steps and guidance scale used when the settings give 0.
    default_steps: int = 4
    default_guidance: float = 1.0
    #: Pipeline components that encode the prompt. When not empty, prompt embeddings
    #: are cached and these components are released after encoding.
    text_components: Tuple[str, ...] = ()
    #: Whether float16 weights give usable images.
    float16_supported: bool = True
    #: Limits of the pipeline's reference image.
    min_side: int = 64
    max_aspect: float = 8.0
    max_pixels: Optional[int] = None

    def __init__(self, settings: Optional[TranslatorSettings] = None,
                 components: Optional[Mapping[str, Any]] = None,
                 pipeline: Any = None, embeddings: Optional[Embeddings] = None):
        """Load the pipeline named by `settings.model`.

        `components` are pre-built pipeline components (for example a processor) that
        replace the ones in the model folder; they are passed to `from_pretrained`.
        `pipeline` is an already built pipeline (quantised, or with random weights in a
        benchmark) used instead of loading one; `settings.model` then only names it.
        `embeddings` are prompt embeddings to use instead of the cache or the encoder.
        """
        super().__init__(settings)
        # 1. Validate the settings and choose device and dtype.
        if not self.settings.model:
            raise ConfigurationError(
                f'translator {self.name!r} needs translator.model: a local diffusers folder '
                f'(with model_index.json) or a hub id such as {self.example_model}')
        self.device = torch.device(resolve_torch_device(self.settings.device, 'translator.device'))
        self.dtype = resolve_dtype(self.settings.dtype, self.device)
        if self.dtype == torch.float16 and not self.float16_supported:
            raise ConfigurationError(
                f'translator {self.name!r} with dtype=float16: FLUX-family VAEs overflow in '
                'float16 and give NaN or black frames; use bfloat16 (CUDA) or float32')
        self._components = dict(components or {})
        self._lock = threading.Lock()
        self._cache = PromptEmbeddingCache(self.settings.cache_dir)

        # 2. Load the pipeline, without its text encoders when the prompt is cached.
        self._embeddings: Optional[Embeddings] = self._on_device(embeddings)
        if self.text_components and self._embeddings is None:
            self._embeddings = self._on_device(
                self._cache.load(self._cache_entry(self.settings.prompt)))
        skip_text = self._embeddings is not None
        if pipeline is None:
            check_gpu_memory(self.settings, self.device, self.text_components if skip_text else ())
            pipeline = self._load_pipeline(skip_text_components=skip_text)
        self.pipeline = pipeline
        self._prepare_pipeline(self.pipeline)
        self._apply_speed_options(self.pipeline)

        # 3. Encode the prompt once, cache it, and release the text encoders.
        if self.text_components and self._embeddings is None:
            self._embeddings = self._encode_and_cache(self.pipeline, self.settings.prompt)
            self._release_text_components()
        LOGGER.info('loaded %s from %s on %s (%s)%s', type(self.pipeline).__name__,
                    self.settings.model, self.device, str(self.dtype).replace('torch.', ''),
                    ', prompt embedding from cache' if skip_text else '')

        # 4. Compile once per configured working size, so the first frames are not slow.
        self._warm_up()

    # ----------------------------------------------------------------- public API

    @property
    def steps(self) -> int:
        """Denoising steps per frame (the backend default when settings.steps is 0)."""
        return self.settings.steps or self.default_steps

    @property
    def guidance_scale(self) -> float:
        """Guidance scale (the backend default when settings.guidance_scale is 0)."""
        return self.settings.guidance_scale or self.default_guidance

    def working_size(self, height: int, width: int) -> Tuple[int, int]:
        """Return the (height, width) the pipeline edits a height x width frame at."""
        block = self.pipeline.vae_scale_factor * 2
        multiple = self.settings.multiple * block // math.gcd(self.settings.multiple, block)
        max_pixels = self.settings.max_pixels
        if self.max_pixels is not None:
            max_pixels = min(max_pixels, self.max_pixels)
        return pick_working_size(height, width, max_pixels, multiple=multiple,
                                 min_side=max(self.settings.min_side, self.min_side),
                                 max_aspect=self.max_aspect)

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """Edit `rgb` toward the source prompt; return uint8 RGB of the same shape.

        Raises TranslationRejected for an unusable edit (NaN, black, wrong shape).
        """
        result = self.translate_batch([rgb])[0]
        if isinstance(result, TranslationRejected):
            raise result
        return result

    def translate_batch(self, frames: Sequence[np.ndarray]) -> List[Any]:
        """Edit frames that share a working size together; return uint8 RGB per frame.

        Frames are grouped by working size; each group goes through
        `_run_pipeline_batch` (one denoising loop where the backend supports it). The
        entry of a frame whose edit was rejected is the `TranslationRejected` error.
        """
        # 1. Validate every frame and group them by working size.
        if self.pipeline is None:
            raise RuntimeError(f'translator {self.name!r} is closed; build a new one')
        groups: Dict[Tuple[int, int], List[int]] = {}
        for index, rgb in enumerate(frames):
            validate_rgb_frame(rgb)
            groups.setdefault(self.working_size(*rgb.shape[:2]), []).append(index)

        # 2. Edit each group with one seeded generator per frame, then map back.
        results: List[Any] = [None] * len(frames)
        for (working_height, working_width), indices in groups.items():
            images = [PIL.Image.fromarray(np.ascontiguousarray(
                to_working(frames[i], (working_height, working_width)))) for i in indices]
            generators = [torch.Generator(device='cpu').manual_seed(self.settings.seed)
                          for _ in indices]
            with self._lock, torch.inference_mode():
                edited = self._run_pipeline_batch(images, working_height, working_width, generators)
            edited = np.asarray(edited)
            if edited.shape[0] != len(indices):
                rejection = TranslationRejected(
                    f'editor returned {edited.shape[0]} images for {len(indices)} frames')
                for i in indices:
                    results[i] = rejection
                continue
            for position, i in enumerate(indices):
                try:
                    image = validate_output(edited[position:position + 1], working_height, working_width)
                except TranslationRejected as error:
                    results[i] = error
                    continue
                height, width = frames[i].shape[:2]
                results[i] = np.ascontiguousarray(from_working(to_uint8(image), height, width))
        return results

    def set_prompt(self, prompt: str) -> None:
        """Use `prompt` from the next frame on.

        The embedding comes from the cache. When it is missing, the text encoders are
        loaded on their own, encode the prompt, and are released again.
        """
        if self.text_components:
            embeddings = self._cache.load(self._cache_entry(prompt))
            if embeddings is None:
                text_pipeline = self._load_pipeline(text_components_only=True)
                try:
                    embeddings = self._encode_and_cache(text_pipeline, prompt)
                finally:
                    del text_pipeline
                    self._free_memory()
            self._embeddings = self._on_device(embeddings)
        self.settings.prompt = prompt

    def cache_key(self) -> Dict[str, Any]:
        """Return every setting that changes the output."""
        settings = self.settings
        return {'name': self.name, 'model': model_identity(settings.model),
                'prompt': settings.prompt, 'steps': self.steps,
                'guidance_scale': self.guidance_scale, 'seed': settings.seed,
                'max_pixels': settings.max_pixels, 'min_side': settings.min_side,
                'multiple': settings.multiple, 'dtype': str(self.dtype).replace('torch.', ''),
                'device': self.device.type, 'lora_path': settings.lora_path}

    def describe(self) -> str:
        """Return one line for the start-up log."""
        return (f'{self.name}: {self.pipeline_class_name} from {self.settings.model} on '
                f'{self.device} ({str(self.dtype).replace("torch.", "")}), {self.steps} steps, '
                f'guidance {self.guidance_scale:g}, working image up to '
                f'{self.settings.max_pixels} px')

    def close(self) -> None:
        """Release the pipeline and free (GPU) memory."""
        self.pipeline = None
        self._embeddings = None
        self._free_memory()

    # ------------------------------------------------------- hooks of subclasses

    @abc.abstractmethod
    def _run_pipeline(self, image: PIL.Image.Image, height: int, width: int,
                      generator: torch.Generator) -> np.ndarray:
        """Run the pipeline on `image`; return float images of shape (1, height, width, 3)."""

    def _run_pipeline_batch(self, images: List[PIL.Image.Image], height: int, width: int,
                            generators: List[torch.Generator]) -> np.ndarray:
        """Run the pipeline on same-size images; return float images (B, height, width, 3).

        This default runs one call per image; backends that batch override it.
        """
        return np.concatenate([self._run_pipeline(image, height, width, generator)
                               for image, generator in zip(images, generators)])

    def _encode_prompt(self, pipeline: Any, prompt: str) -> Embeddings:
        """Return the prompt embeddings that `_run_pipeline` passes to the pipeline."""
        raise NotImplementedError(f'{type(self).__name__} does not cache prompt embeddings')

    def _prepare_pipeline(self, pipeline: Any) -> None:
        """Adjust the loaded pipeline (for example fuse a LoRA); called once after loading."""

    # ------------------------------------------------------------------ helpers

    def _embedding(self, name: str) -> torch.Tensor:
        return self._embeddings[name]

    def _on_device(self, embeddings: Optional[Embeddings]) -> Optional[Embeddings]:
        if embeddings is None:
            return None
        return {name: tensor.to(self.device, self.dtype) for name, tensor in embeddings.items()}

    def _cache_entry(self, prompt: str) -> str:
        return self._cache.key(self.settings.model, self.pipeline_class_name, prompt, self.dtype)

    def _encode_and_cache(self, pipeline: Any, prompt: str) -> Embeddings:
        with torch.inference_mode():
            embeddings = self._encode_prompt(pipeline, prompt)
        path = self._cache.save(self._cache_entry(prompt), embeddings, {
            'model': model_identity(self.settings.model), 'pipeline': self.pipeline_class_name,
            'prompt': prompt, 'dtype': str(self.dtype)})
        LOGGER.info('cached the prompt embedding in %s', path)
        return self._on_device(embeddings)

    def _load_pipeline(self, skip_text_components: bool = False,
                       text_components_only: bool = False) -> Any:
        import diffusers

        pipeline_class = getattr(diffusers, self.pipeline_class_name)
        overrides: Dict[str, Any] = dict(self._components)
        if skip_text_components:
            overrides.update({name: None for name in self.text_components})
        if text_components_only:
            overrides = {name: None for name in self._component_names()
                         if name not in self.text_components}
        try:
            pipeline = pipeline_class.from_pretrained(
                self.settings.model, dtype=self.dtype, use_safetensors=True, **overrides)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f'cannot load {self.pipeline_class_name} from translator.model='
                f'{self.settings.model!r}: {error}. Use a local diffusers folder (with '
                f'model_index.json and safetensors weights) or a hub id such as '
                f'{self.example_model}') from error
        # NOTE: only the CPU path has run in tests; the CUDA path (bfloat16 weights moved
        # to the GPU) has not been run on a GPU yet.
        if self.settings.cpu_offload == 'none':
            pipeline.to(self.device)  # with offload, accelerate moves each part when it runs
        pipeline.set_progress_bar_config(disable=True)
        return pipeline

    def _apply_speed_options(self, pipeline: Any) -> None:
        """Apply attention backend, channels-last VAE, CPU offload and torch.compile."""
        settings = self.settings
        denoiser = getattr(pipeline, 'transformer', None)
        if settings.attention_backend:
            if settings.attention_backend.endswith('_hub'):
                raise ConfigurationError(
                    f'translator attention_backend={settings.attention_backend!r} downloads a '
                    'kernel from the hub at run time; install the kernel package and use the '
                    'local backend name (flash, sage, native, ...)')
            try:
                denoiser.set_attention_backend(settings.attention_backend)
            except (ValueError, RuntimeError, ImportError) as error:
                raise ConfigurationError(
                    f'translator attention_backend={settings.attention_backend!r} cannot be '
                    f'used: {error}. Leave it empty for PyTorch scaled dot product attention') from error
        if settings.channels_last and getattr(pipeline, 'vae', None) is not None:
            pipeline.vae.to(memory_format=torch.channels_last)
        if settings.cpu_offload != 'none':
            if self.device.type != 'cuda':
                raise ConfigurationError(
                    f'translator cpu_offload={settings.cpu_offload!r} needs a CUDA device; the '
                    f'translator runs on {self.device}. Set cpu_offload to none')
            if settings.cpu_offload == 'model':
                pipeline.enable_model_cpu_offload(device=self.device)
            else:
                pipeline.enable_sequential_cpu_offload(device=self.device)
        if settings.compile:
            # Compilation specialises on shapes, so each working size compiles once;
            # translator.warmup_sizes does that at start instead of on the first frames.
            pipeline.transformer = torch.compile(denoiser)

    def _warm_up(self) -> None:
        """Translate one grey frame of each size in translator.warmup_sizes and log the time."""
        for height, width in parse_sizes(self.settings.warmup_sizes):
            start = time.perf_counter()
            self.translate(np.full((height, width, 3), 128, np.uint8))
            LOGGER.info('warm-up at %dx%d (working size %dx%d): %.1f s', width, height,
                        *self.working_size(height, width)[::-1], time.perf_counter() - start)

    def _component_names(self) -> Tuple[str, ...]:
        import diffusers

        pipeline_class = getattr(diffusers, self.pipeline_class_name)
        expected, _ = pipeline_class._get_signature_keys(pipeline_class)
        return tuple(expected)

    def _release_text_components(self) -> None:
        for name in self.text_components:
            setattr(self.pipeline, name, None)
        self._free_memory()

    def _free_memory(self) -> None:
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
