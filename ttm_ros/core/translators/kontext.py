"""FLUX.1 Kontext editing through diffusers' FluxKontextPipeline.

Kontext [dev] is guidance-distilled but not step-distilled. It normally needs about
28 steps (the pipeline default, used here when settings.steps is 0). The default
guidance 2.5 is the value of the diffusers 0.42 usage example. The pipeline
is called with explicit height, width, `max_area` = height x width and
`_auto_resize=False`, so it keeps the working size instead of switching to one of its
preferred resolutions near 1 MP. The CLIP and T5 prompt embeddings (sequence and
pooled) are cached, and both text encoders are released.

Frames of one working size are edited in one pipeline call. The pipeline takes a list
of images as a batch when the prompt embeddings have one row per image. A list of
generators gives each frame the noise it gets in a single call.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import PIL.Image
import torch

from ttm_ros.core.translators.diffusers_common import DiffusersTranslator, Embeddings


class KontextTranslator(DiffusersTranslator):
    """Edits each frame with a FLUX.1 Kontext checkpoint."""

    name = 'kontext'
    pipeline_class_name = 'FluxKontextPipeline'
    example_model = 'black-forest-labs/FLUX.1-Kontext-dev'
    default_steps = 28
    default_guidance = 2.5
    text_components = ('text_encoder', 'tokenizer', 'text_encoder_2', 'tokenizer_2')
    float16_supported = False

    def _encode_prompt(self, pipeline: Any, prompt: str) -> Embeddings:
        prompt_embeds, pooled_prompt_embeds, _ = pipeline.encode_prompt(
            prompt=prompt, prompt_2=None, device=self.device)
        return {'prompt_embeds': prompt_embeds, 'pooled_prompt_embeds': pooled_prompt_embeds}

    def _run_pipeline(self, image: PIL.Image.Image, height: int, width: int,
                      generator: torch.Generator) -> np.ndarray:
        return self._run_pipeline_batch([image], height, width, [generator])

    def _run_pipeline_batch(self, images: List[PIL.Image.Image], height: int, width: int,
                            generators: List[torch.Generator]) -> np.ndarray:
        count = len(images)
        return self.pipeline(
            image=images if count > 1 else images[0],
            prompt_embeds=self._embedding('prompt_embeds').expand(count, -1, -1),
            pooled_prompt_embeds=self._embedding('pooled_prompt_embeds').expand(count, -1),
            height=height, width=width, max_area=height * width, _auto_resize=False,
            num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
            generator=generators if count > 1 else generators[0], output_type='np').images
