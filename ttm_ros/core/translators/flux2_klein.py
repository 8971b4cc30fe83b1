"""FLUX.2 [klein] editing through diffusers' Flux2KleinPipeline.

Defaults are the distilled 4B settings: 4 steps, guidance 1.0 (a distilled model
ignores guidance). The Qwen3 prompt embedding is computed once and cached, and the
text encoder (about 8 GiB for klein 4B) is released. The pipeline reduces reference
images above 1024 x 1024 pixels itself, so the working size is capped there.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import PIL.Image
import torch

from ttm_ros.core.translators.diffusers_common import DiffusersTranslator, Embeddings
from ttm_ros.core.translators.flux2_batch import edit_batch


class Flux2KleinTranslator(DiffusersTranslator):
    """Edits each frame with a FLUX.2 [klein] checkpoint."""

    name = 'flux2-klein'
    pipeline_class_name = 'Flux2KleinPipeline'
    example_model = 'black-forest-labs/FLUX.2-klein-4B'
    default_steps = 4
    default_guidance = 1.0
    text_components = ('text_encoder', 'tokenizer')
    float16_supported = False
    max_pixels = 1024 * 1024

    def _encode_prompt(self, pipeline: Any, prompt: str) -> Embeddings:
        prompt_embeds, _ = pipeline.encode_prompt(prompt=prompt, device=self.device)
        embeddings = {'prompt_embeds': prompt_embeds}
        if not pipeline.config.is_distilled:
            # Classifier-free guidance of undistilled checkpoints uses an empty prompt.
            negative_embeds, _ = pipeline.encode_prompt(prompt='', device=self.device)
            embeddings['negative_prompt_embeds'] = negative_embeds
        return embeddings

    def _run_pipeline(self, image: PIL.Image.Image, height: int, width: int,
                      generator: torch.Generator) -> np.ndarray:
        negative = (self._embedding('negative_prompt_embeds')
                    if 'negative_prompt_embeds' in self._embeddings else None)
        return self.pipeline(
            image=image, prompt_embeds=self._embedding('prompt_embeds'),
            negative_prompt_embeds=negative, height=height, width=width,
            num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
            generator=generator, output_type='np').images

    def _run_pipeline_batch(self, images: List[PIL.Image.Image], height: int, width: int,
                            generators: List[torch.Generator]) -> np.ndarray:
        if len(images) == 1 or not self.pipeline.config.is_distilled:
            return super()._run_pipeline_batch(images, height, width, generators)
        return edit_batch(self.pipeline, images, self._embedding('prompt_embeds'), self.steps,
                          generators)
