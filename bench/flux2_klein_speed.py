"""Seconds per frame of FLUX.2 klein editing, with random weights of the real size.

Usage (CUDA):  python bench/flux2_klein_speed.py
       (CPU):  python bench/flux2_klein_speed.py --toy     # tiny model, keeps the script working

No download: the transformer and VAE are built from configs with random weights, and
the prompt embedding is random with the real shape (1 x 512 x 7680), so the numbers
measure speed, not image quality. The real klein-4B transformer config used here
(5 double and 20 single blocks, 24 heads of 128, joint attention width 7680, MLP ratio
3, RoPE axes 32 x 4, theta 2000, no guidance embedding) is the one public projects that
load the checkpoint use; diffusers' class defaults are FLUX.2 dev.

Measured, for each frame size and batch size: seconds per frame through
`Flux2KleinTranslator.translate_batch` (resize, edit, map back), with and without
`torch.compile` of the transformer (compiled once per working size during warm-up),
peak GPU memory, and the whole node path (decode, translate, segment with a tiny
SegFormer, fuse, encode) per frame. Every line prints its ratio to the 0.8 s per image
that the method's authors measured on an H200 for the 4B editor.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Dict, List

import numpy as np
import torch

PUBLISHED_S_PER_IMAGE = 0.8
REAL_TRANSFORMER = dict(patch_size=1, in_channels=128, num_layers=5, num_single_layers=20,
                        attention_head_dim=128, num_attention_heads=24, joint_attention_dim=7680,
                        mlp_ratio=3.0, axes_dims_rope=(32, 32, 32, 32), rope_theta=2000,
                        timestep_guidance_channels=256, guidance_embeds=False)
TOY_TRANSFORMER = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                       attention_head_dim=16, num_attention_heads=2, joint_attention_dim=48,
                       timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4),
                       guidance_embeds=False)
TOY_VAE = dict(block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4,
               norm_num_groups=4, sample_size=64)


def build_translator(toy: bool, device: str, dtype: torch.dtype, compile_model: bool):
    """Return a Flux2KleinTranslator around a random-weight pipeline of the real (or toy) size."""
    from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler,
                           Flux2KleinPipeline, Flux2Transformer2DModel)

    from ttm_ros.core.translators.base import TranslatorSettings
    from ttm_ros.core.translators.flux2_klein import Flux2KleinTranslator

    torch.manual_seed(0)
    with torch.device(device):
        transformer = Flux2Transformer2DModel(**(TOY_TRANSFORMER if toy else REAL_TRANSFORMER))
        vae = AutoencoderKLFlux2(**(TOY_VAE if toy else {}))
    transformer = transformer.to(dtype).eval()
    vae = vae.to(dtype).eval()
    if compile_model:
        transformer = torch.compile(transformer)
    pipeline = Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                                  text_encoder=None, tokenizer=None, transformer=transformer,
                                  is_distilled=True)
    pipeline.set_progress_bar_config(disable=True)
    width = TOY_TRANSFORMER['joint_attention_dim'] if toy else REAL_TRANSFORMER['joint_attention_dim']
    embeddings = {'prompt_embeds': torch.randn(1, 64 if toy else 512, width)}
    settings = TranslatorSettings(model='random-weights', device=device,
                                  dtype=str(dtype).replace('torch.', ''), steps=4)
    return Flux2KleinTranslator(settings, pipeline=pipeline, embeddings=embeddings)


def seconds_per_frame(translator, frames: List[np.ndarray], repeats: int) -> float:
    """Return the median seconds per frame of `translate_batch(frames)` after a warm-up."""
    translator.translate_batch(frames)  # warm-up; compiles once per working size
    durations = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        translator.translate_batch(frames)
        synchronize()
        durations.append((time.perf_counter() - start) / len(frames))
    return statistics.median(durations)


def node_path_seconds(translator, frame: np.ndarray, repeats: int, folder) -> Dict[str, float]:
    """Return the median per-stage times (s) of decode, pipeline and encode for one frame."""
    import sys
    sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[1] / 'test'))
    from tiny_segmenter import save_tiny_segformer

    from ttm_ros.core.image_codec import decode_image, encode_image
    from ttm_ros.core.pipeline import TTMPipeline
    from ttm_ros.core.segmenters import SegmenterSettings, build_segmenter

    segmenter = build_segmenter('transformers', SegmenterSettings(
        model=str(save_tiny_segformer(folder)), device='cuda' if torch.cuda.is_available() else 'cpu'))
    pipeline = TTMPipeline(translator, segmenter)
    raw = encode_image(frame, 'rgb8')
    stages: Dict[str, List[float]] = {}
    for index in range(repeats + 1):
        start = time.perf_counter()
        rgb = decode_image(raw)
        decoded = time.perf_counter()
        result = pipeline.process(rgb, all_masks=False)
        synchronize()
        processed = time.perf_counter()
        encode_image(result.translated, 'rgb8')
        encode_image(result.mask_fused, 'mono8')
        done = time.perf_counter()
        if index:  # the first frame is a warm-up
            for name, value in (('decode', decoded - start), ('translate+segment+fuse', processed - decoded),
                                ('encode', done - processed), ('total', done - start)):
                stages.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in stages.items()}


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--toy', action='store_true', help='tiny model on the CPU (CI smoke run)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--sizes', default='1280x720,1024x512', help='frame sizes WxH')
    parser.add_argument('--batches', default='1,4')
    parser.add_argument('--no-compile', action='store_true', help='skip the torch.compile runs')
    parser.add_argument('--json', default='', help='also write the results to this file')
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available() and not args.toy
    device, dtype = ('cuda', torch.bfloat16) if cuda else ('cpu', torch.float32)
    sizes = [tuple(int(v) for v in size.split('x')) for size in args.sizes.split(',')]
    if args.toy:
        sizes = [(96, 64), (128, 64)]
    batches = [int(b) for b in args.batches.split(',')]
    print(f'device {torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"}, '
          f'torch {torch.__version__}, dtype {str(dtype).replace("torch.", "")}, '
          f'{"toy" if args.toy else "real-size"} random weights, 4 steps')

    results = []
    for compile_model in ([False] if args.no_compile or not cuda else [False, True]):
        translator = build_translator(args.toy, device, dtype, compile_model)
        for width, height in sizes:
            frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
            for batch in batches:
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                seconds = seconds_per_frame(translator, [frame] * batch, args.repeats)
                peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float('nan')
                row = {'size': f'{width}x{height}', 'batch': batch, 'compile': compile_model,
                       'working_size': 'x'.join(map(str, translator.working_size(height, width)[::-1])),
                       's_per_frame': seconds, 'ratio_to_published': seconds / PUBLISHED_S_PER_IMAGE,
                       'peak_gib': peak}
                results.append(row)
                print(f"  {row['size']:>9} (work {row['working_size']}) batch {batch} "
                      f"compile {'on ' if compile_model else 'off'}: {seconds:7.3f} s/frame, "
                      f"{row['ratio_to_published']:5.2f} x published 0.8 s, peak {peak:5.1f} GiB")
        if not compile_model:
            import tempfile
            width, height = sizes[0]
            frame = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
            with tempfile.TemporaryDirectory() as folder:
                stages = node_path_seconds(translator, frame, args.repeats, __import__('pathlib').Path(folder))
            print(f'  node path at {width}x{height}: ' + ', '.join(
                f'{name} {value:.3f} s' for name, value in stages.items())
                + f' ({stages["total"] / PUBLISHED_S_PER_IMAGE:.2f} x published 0.8 s)')
            results.append({'node_path': stages, 'size': f'{width}x{height}'})
        translator.close()
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
