"""Tests of the transformers segmenter with tiny random Segformer and Mask2Former models.

Each model is built from a small config with seeded random weights, saved with an
image processor to a temporary folder and loaded back through the registry, as a
downloaded checkpoint would be.
"""

import numpy as np
import pytest

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')
pytest.importorskip('scipy')  # Mask2Former imports scipy even for inference

from ttm_ros.core.errors import ConfigurationError, FrameError  # noqa: E402
from ttm_ros.core.labels import CITYSCAPES_CLASSES  # noqa: E402
from ttm_ros.core.segmenters import SegmenterSettings, build_segmenter  # noqa: E402

ID2LABEL = dict(enumerate(CITYSCAPES_CLASSES))
LABEL2ID = {name: index for index, name in ID2LABEL.items()}
ODD_SIZE = (37, 53)  # height, width


def tiny_segformer():
    torch.manual_seed(0)
    config = transformers.SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
        strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16,
        num_labels=19, id2label=ID2LABEL, label2id=LABEL2ID)
    return transformers.SegformerForSemanticSegmentation(config).eval()


def tiny_mask2former():
    torch.manual_seed(0)
    backbone = dict(model_type='swin', embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
                    image_size=64, out_features=['stage1', 'stage2', 'stage3', 'stage4'])
    config = transformers.Mask2FormerConfig(
        backbone_config=backbone, hidden_dim=32, mask_feature_size=32, feature_size=32, encoder_layers=1,
        decoder_layers=2, num_queries=5, encoder_feedforward_dim=32, dim_feedforward=32, num_attention_heads=2,
        num_labels=19, id2label=ID2LABEL, label2id=LABEL2ID, use_pretrained_backbone=False)
    return transformers.Mask2FormerForUniversalSegmentation(config).eval()


@pytest.fixture(scope='module')
def segformer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('segformer')
    tiny_segformer().save_pretrained(folder)
    transformers.SegformerImageProcessorPil(size={'height': 64, 'width': 64}).save_pretrained(folder)
    return folder


@pytest.fixture(scope='module')
def mask2former_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('mask2former')
    tiny_mask2former().save_pretrained(folder)
    processor = transformers.Mask2FormerImageProcessorPil(size={'shortest_edge': 64, 'longest_edge': 128})
    processor.save_pretrained(folder)
    return folder


def random_rgb(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (*ODD_SIZE, 3), dtype=np.uint8)


def check_probabilities(probabilities):
    assert probabilities.shape == (19, *ODD_SIZE)
    assert probabilities.dtype == np.float32
    assert probabilities.min() >= 0.0
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-5)


def run_with_processor(segmenter, folder, rgb):
    """Return (processor, inputs, outputs) of the saved processor and the loaded model."""
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    inputs = processor(images=rgb, return_tensors='pt')
    with torch.no_grad():
        outputs = segmenter.model(**inputs)
    return processor, inputs, outputs


def test_segformer_probabilities(segformer_dir):
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(segformer_dir), device='cpu'))
    rgb = random_rgb()

    probabilities = segmenter.predict_proba(rgb)

    check_probabilities(probabilities)
    assert tuple(segmenter.class_names) == CITYSCAPES_CLASSES
    assert not segmenter.is_universal
    np.testing.assert_array_equal(segmenter.predict_proba(rgb), probabilities)


def test_segformer_matches_reference_steps(segformer_dir):
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(segformer_dir)))
    rgb = random_rgb(1)

    probabilities = segmenter.predict_proba(rgb)

    processor, inputs, outputs = run_with_processor(segmenter, segformer_dir, rgb)
    assert tuple(inputs['pixel_values'].shape[-2:]) == (64, 64)
    logits = torch.nn.functional.interpolate(outputs.logits, size=ODD_SIZE, mode='bilinear', align_corners=False)
    np.testing.assert_allclose(probabilities, logits.softmax(dim=1)[0].numpy(), atol=1e-6)
    labels = processor.post_process_semantic_segmentation(outputs, target_sizes=[ODD_SIZE])[0]
    np.testing.assert_array_equal(probabilities.argmax(axis=0), labels.numpy())


def test_segformer_without_processor(tmp_path):
    tiny_segformer().save_pretrained(tmp_path)
    extra = {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5], 'size': [32, 48]}
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(tmp_path), extra=extra))
    rgb = random_rgb(2)
    assert segmenter.processor is None

    probabilities = segmenter.predict_proba(rgb)

    check_probabilities(probabilities)
    from PIL import Image
    resized = np.asarray(Image.fromarray(rgb).resize((48, 32), Image.Resampling.BILINEAR))
    pixels = torch.from_numpy(((resized / 255.0 - 0.5) / 0.5).astype(np.float32).transpose(2, 0, 1))[None]
    with torch.no_grad():
        logits = segmenter.model(pixel_values=pixels).logits
    logits = torch.nn.functional.interpolate(logits, size=ODD_SIZE, mode='bilinear', align_corners=False)
    np.testing.assert_allclose(probabilities, logits.softmax(dim=1)[0].numpy(), atol=1e-6)


def test_mask2former_probabilities(mask2former_dir):
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(mask2former_dir), device='auto'))
    rgb = random_rgb()

    probabilities = segmenter.predict_proba(rgb)

    check_probabilities(probabilities)
    assert segmenter.is_universal
    assert type(segmenter.model).__name__ == 'Mask2FormerForUniversalSegmentation'
    np.testing.assert_array_equal(segmenter.predict_proba(rgb), probabilities)


def test_mask2former_matches_reference_steps(mask2former_dir):
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(mask2former_dir)))
    rgb = random_rgb(3)

    probabilities = segmenter.predict_proba(rgb)

    _, _, outputs = run_with_processor(segmenter, mask2former_dir, rgb)
    classes = outputs.class_queries_logits.softmax(dim=-1)[..., :-1]
    masks = outputs.masks_queries_logits.sigmoid()
    scores = torch.einsum('bqc,bqhw->bchw', classes, masks)
    scores = torch.nn.functional.interpolate(scores, size=ODD_SIZE, mode='bilinear', align_corners=False)
    expected = (scores / scores.sum(dim=1, keepdim=True))[0].numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_semantic_class_rejects_mask2former(mask2former_dir):
    # The reason the Auto class follows config.model_type.
    with pytest.raises(ValueError):
        transformers.AutoModelForSemanticSegmentation.from_pretrained(mask2former_dir)


def test_load_errors(tmp_path, segformer_dir):
    with pytest.raises(ConfigurationError, match='segmenter.model is empty'):
        build_segmenter('transformers', SegmenterSettings())
    with pytest.raises(ConfigurationError, match='missing-model'):
        build_segmenter('transformers', SegmenterSettings(model=str(tmp_path / 'missing-model')))
    with pytest.raises(ConfigurationError, match='segmenter.device'):
        build_segmenter('transformers', SegmenterSettings(model=str(segformer_dir), device='tpu'))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match='no CUDA device'):
            build_segmenter('transformers', SegmenterSettings(model=str(segformer_dir), device='cuda'))


def test_pickle_weights_rejected(tmp_path):
    model = tiny_segformer()
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / 'pytorch_model.bin')
    with pytest.raises(ConfigurationError, match='safetensors'):
        build_segmenter('transformers', SegmenterSettings(model=str(tmp_path)))


def test_bad_frames_rejected(segformer_dir):
    segmenter = build_segmenter('transformers', SegmenterSettings(model=str(segformer_dir)))
    with pytest.raises(FrameError):
        segmenter.predict_proba(np.zeros(ODD_SIZE, np.uint8))
    segmenter.close()
    with pytest.raises(FrameError, match='closed'):
        segmenter.predict_proba(random_rgb())


def test_crop_padding_from_pixel_mask():
    from ttm_ros.core.segmenters.hf_segmenter import TransformersSegmenter
    scores = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    pixel_mask = torch.zeros(1, 32, 32, dtype=torch.long)
    pixel_mask[0, :20, :12] = 1
    cropped = TransformersSegmenter._crop_padding(scores, pixel_mask)
    assert tuple(cropped.shape) == (1, 2, 5, 3)
    torch.testing.assert_close(cropped, scores[..., :5, :3])
    assert TransformersSegmenter._crop_padding(scores, torch.ones(1, 32, 32)) is scores


@pytest.mark.parametrize('device', ['tpu', 'cuda:x', 'CPU', ''])
def test_torch_device_rejects_unknown_names(device):
    from ttm_ros.core.torch_device import resolve_torch_device
    with pytest.raises(ConfigurationError, match=f"classifier.device={device!r} is invalid"):
        resolve_torch_device(device, 'classifier.device')
    assert resolve_torch_device('cpu', 'classifier.device') == 'cpu'
