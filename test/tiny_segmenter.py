"""A tiny randomly initialised SegFormer with the 19 Cityscapes classes, for node tests.

Built from a config (no download), seeded, saved with `save_pretrained` so the node
loads it through the real `from_pretrained` path of the transformers segmenter.
"""

import pathlib

from ttm_ros.core.labels import CITYSCAPES_CLASSES


def save_tiny_segformer(folder: pathlib.Path) -> pathlib.Path:
    """Write a tiny SegFormer (and its image processor) to `folder`; return the folder."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    from transformers import SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[4, 2],
        hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1],
        mlp_ratios=[2, 2], decoder_hidden_size=16,
        id2label=dict(enumerate(CITYSCAPES_CLASSES)),
        label2id={name: i for i, name in enumerate(CITYSCAPES_CLASSES)})
    model = SegformerForSemanticSegmentation(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    SegformerImageProcessor(size={'height': 64, 'width': 64}).save_pretrained(folder)
    return folder
