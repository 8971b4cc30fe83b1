"""Batched editing with a Flux2KleinPipeline: B frames of one size, one denoising loop.

`Flux2KleinPipeline(image=[f1, f2, ...])` is ONE edit with several reference images,
not several edits, so a batch needs its own loop over the pipeline's components. This
module reproduces the pipeline's call (diffusers 0.42) for a distilled checkpoint
without classifier-free guidance, with a batch dimension everywhere:

1. VAE-encode every frame (argmax latents, patchified, batch-norm normalised) and pack
   them into reference tokens, one reference image per sample;
2. draw each sample's noise from its own generator, as a single call would;
3. run the flow-matching steps with the shared timesteps and the repeated prompt
   embedding;
4. unpack, de-normalise and VAE-decode every sample.

Each sample matches a single `pipeline(image=frame, ...)` call with the same seed to
float tolerance (batched matrix products round differently), which a test checks.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import PIL.Image
import torch

from ttm_ros.core.errors import ConfigurationError


def edit_batch(pipeline, images: Sequence[PIL.Image.Image], prompt_embeds: torch.Tensor,
               num_inference_steps: int, generators: Sequence[torch.Generator]) -> np.ndarray:
    """Edit same-size frames in one loop; return float images (B, H, W, 3) in [0, 1].

    `images` must all have the working size (both sides multiples of
    2 * vae_scale_factor, at most about 1 MP, so the pipeline would not resize them);
    `prompt_embeds` is the (1, L, D) embedding of the source prompt.
    """
    from diffusers.pipelines.flux2.pipeline_flux2_klein import (
        compute_empirical_mu, retrieve_latents, retrieve_timesteps)

    # 0. Validate up front: one size, one generator per frame, a distilled model.
    sizes = {image.size for image in images}
    if len(sizes) != 1:
        raise ValueError(f'a batch needs frames of one size, got {sorted(sizes)}')
    if len(generators) != len(images):
        raise ValueError(f'{len(generators)} generators for {len(images)} frames')
    if not pipeline.config.is_distilled:
        raise ConfigurationError('batched editing supports distilled FLUX.2 klein checkpoints '
                                 '(no classifier-free guidance); edit frames one at a time')
    width, height = sizes.pop()
    multiple = pipeline.vae_scale_factor * 2
    if width % multiple or height % multiple:
        raise ValueError(f'frame size {width}x{height} is not a multiple of {multiple}')
    batch = len(images)
    device = pipeline._execution_device

    # 1. Reference tokens: encode every frame with the VAE, one reference per sample.
    pixels = torch.cat([pipeline.image_processor.preprocess(image, height=height, width=width,
                                                            resize_mode='crop')
                        for image in images]).to(device=device, dtype=pipeline.vae.dtype)
    image_latents = retrieve_latents(pipeline.vae.encode(pixels), sample_mode='argmax')
    image_latents = pipeline._patchify_latents(image_latents)
    mean = pipeline.vae.bn.running_mean.view(1, -1, 1, 1).to(image_latents.device, image_latents.dtype)
    std = torch.sqrt(pipeline.vae.bn.running_var.view(1, -1, 1, 1)
                     + pipeline.vae.config.batch_norm_eps).to(image_latents.device, image_latents.dtype)
    image_latents = (image_latents - mean) / std
    image_latent_ids = pipeline._prepare_image_ids([image_latents[:1]]).to(device)
    image_latent_ids = image_latent_ids.repeat(batch, 1, 1)
    image_latents = pipeline._pack_latents(image_latents)

    # 2. Prompt and noise: the embedding repeated, each sample's noise from its generator.
    prompt_embeds, text_ids = pipeline.encode_prompt(
        prompt=None, prompt_embeds=prompt_embeds.repeat(batch, 1, 1), device=device)
    latents, latent_ids = pipeline.prepare_latents(
        batch_size=batch, num_latents_channels=pipeline.transformer.config.in_channels // 4,
        height=height, width=width, dtype=prompt_embeds.dtype, device=device,
        generator=list(generators))

    # 3. The flow-matching loop of the pipeline, batched.
    sigmas = np.linspace(1.0, 1 / num_inference_steps, num_inference_steps)
    if getattr(pipeline.scheduler.config, 'use_flow_sigmas', False):
        sigmas = None
    mu = compute_empirical_mu(image_seq_len=latents.shape[1], num_steps=num_inference_steps)
    timesteps, _ = retrieve_timesteps(pipeline.scheduler, num_inference_steps, device,
                                      sigmas=sigmas, mu=mu)
    if hasattr(pipeline.scheduler, 'set_begin_index'):
        pipeline.scheduler.set_begin_index(0)
    model_ids = torch.cat([latent_ids, image_latent_ids], dim=1)
    for timestep in timesteps:
        model_input = torch.cat([latents, image_latents], dim=1).to(pipeline.transformer.dtype)
        with pipeline.transformer.cache_context('cond'):
            noise = pipeline.transformer(
                hidden_states=model_input, timestep=timestep.expand(batch).to(latents.dtype) / 1000,
                guidance=None, encoder_hidden_states=prompt_embeds, txt_ids=text_ids,
                img_ids=model_ids, return_dict=False)[0]
        latents = pipeline.scheduler.step(noise[:, :latents.size(1)], timestep, latents,
                                          return_dict=False)[0]

    # 4. Decode every sample.
    latent_height = 2 * (height // multiple)
    latent_width = 2 * (width // multiple)
    latents = pipeline._unpack_latents_with_ids(latents, latent_ids, latent_height // 2,
                                                latent_width // 2)
    latents = pipeline._unpatchify_latents(latents * std.to(latents.dtype) + mean.to(latents.dtype))
    decoded = pipeline.vae.decode(latents.to(pipeline.vae.dtype), return_dict=False)[0]
    return pipeline.image_processor.postprocess(decoded, output_type='np')


def group_by_size(frames: Sequence[np.ndarray]) -> List[List[int]]:
    """Return the indices of `frames` grouped by (height, width), in first-seen order."""
    groups: dict = {}
    for index, frame in enumerate(frames):
        groups.setdefault(frame.shape[:2], []).append(index)
    return list(groups.values())
