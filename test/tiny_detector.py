"""Tiny randomly initialised DETR and RT-DETR detectors, saved like hub checkpoints."""

import pathlib

import torch
from transformers import (DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig,
                          RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor)

LABELS = {0: 'car', 1: 'person', 2: 'bus'}


def _label_kwargs():
    return {'num_labels': len(LABELS), 'id2label': dict(LABELS),
            'label2id': {name: index for index, name in LABELS.items()}}


def save_tiny_detr(folder: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Save a 2-layer DETR with a tiny ResNet backbone and its image processor to `folder`."""
    torch.manual_seed(seed)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1],
                            out_features=['stage4'])
    config = DetrConfig(use_timm_backbone=False, backbone_config=backbone, d_model=16,
                        encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
                        num_queries=10, **_label_kwargs())
    DetrForObjectDetection(config).eval().save_pretrained(folder)
    DetrImageProcessor(size={'shortest_edge': 64, 'longest_edge': 96}).save_pretrained(folder)
    return folder


def save_tiny_rtdetr(folder: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Save a 1-layer RT-DETR with a tiny ResNet backbone and its image processor to `folder`."""
    torch.manual_seed(seed)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1],
                            out_features=['stage2', 'stage3', 'stage4'])
    config = RTDetrConfig(backbone_config=backbone, use_timm_backbone=False, use_pretrained_backbone=False,
                          encoder_in_channels=[8, 8, 8], encoder_hidden_dim=16, decoder_in_channels=[16, 16, 16], encoder_ffn_dim=16,
                          encoder_attention_heads=2, encoder_layers=1, d_model=16, decoder_layers=1,
                          decoder_attention_heads=2, decoder_ffn_dim=16, decoder_n_points=2,
                          num_queries=10, num_denoising=0, **_label_kwargs())
    RTDetrForObjectDetection(config).eval().save_pretrained(folder)
    RTDetrImageProcessor(size={'height': 64, 'width': 64}).save_pretrained(folder)
    return folder
