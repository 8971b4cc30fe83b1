"""Qwen-Image-Edit-2509 editing through diffusers' QwenImageEditPlusPipeline.

Its Qwen2.5-VL encoder reads the prompt together with each frame, so the prompt
embedding differs per frame and cannot be cached. The text encoder therefore stays
loaded. Without a LoRA the defaults are those of the diffusers 0.42 pipeline: 50 steps
with true classifier-free guidance 4.0 (the negative prompt is a single space). With `settings.lora_path` (a local Lightning LoRA
file) the LoRA is fused into the transformer and the defaults become 8 steps without
guidance; set steps to 4 for a 4-step LoRA.

The pipeline encodes the reference image at about 1 MP (module constant
VAE_IMAGE_SIZE) whatever the working size; the output has the working size. It
rejects batches above 1, so the frames of a batch are edited one after another.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import numpy as np
import PIL.Image
import torch

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.translators.diffusers_common import DiffusersTranslator

LOGGER = logging.getLogger(__name__)

NEGATIVE_PROMPT = ' '


class QwenEditTranslator(DiffusersTranslator):
    """Edits each frame with a Qwen-Image-Edit-Plus checkpoint."""

    name = 'qwen-edit'
    pipeline_class_name = 'QwenImageEditPlusPipeline'
    example_model = 'Qwen/Qwen-Image-Edit-2509'

    @property
    def default_steps(self) -> int:  # type: ignore[override]
        return 8 if self.settings.lora_path else 50

    @property
    def default_guidance(self) -> float:  # type: ignore[override]
        return 1.0 if self.settings.lora_path else 4.0

    def _prepare_pipeline(self, pipeline: Any) -> None:
        lora_path = self.settings.lora_path
        if not lora_path:
            return
        path = pathlib.Path(lora_path).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f'translator lora_path={lora_path!r} is not a file; give a local LoRA '
                '.safetensors file or leave it empty')
        pipeline.load_lora_weights(str(path.parent), weight_name=path.name)
        pipeline.fuse_lora()
        pipeline.unload_lora_weights()
        LOGGER.info('fused the LoRA %s into the transformer', path)

    def _run_pipeline(self, image: PIL.Image.Image, height: int, width: int,
                      generator: torch.Generator) -> np.ndarray:
        guidance = self.guidance_scale
        return self.pipeline(
            image=image, prompt=self.settings.prompt,
            negative_prompt=NEGATIVE_PROMPT if guidance > 1.0 else None,
            true_cfg_scale=guidance, height=height, width=width,
            num_inference_steps=self.steps, generator=generator, output_type='np').images
