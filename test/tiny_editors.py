"""Tiny randomly initialised editing pipelines, saved for the translators to load.

Each builder makes a diffusers pipeline of the real class from small configs with
seeded random weights (no download), calls `.eval()` on every module, and writes it
with `save_pretrained`, so the translators load it through their real
`from_pretrained` path. Tokenizers are built in code from a byte-level vocabulary.
All VAEs have four levels, so sizes follow the real rule (multiples of 16).
"""

from __future__ import annotations

import json
import pathlib

import torch

TEXT_WIDTH = 16
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
QWEN_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>',
                       '<|vision_end|>', '<|image_pad|>', '<|video_pad|>']


def byte_vocabulary(special_tokens, suffix: str = ''):
    """Return a vocabulary of the 256 byte symbols of byte-level BPE plus `special_tokens`."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    if suffix:
        symbols += [symbol + suffix for symbol in symbols]
    return {token: index for index, token in enumerate(symbols + list(special_tokens))}


def qwen_tokenizer():
    """Return a Qwen2 tokenizer with the chat template and the Qwen special tokens."""
    from transformers import Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer(vocab=byte_vocabulary(QWEN_SPECIAL_TOKENS), merges=[])
    tokenizer.add_special_tokens({'additional_special_tokens': QWEN_SPECIAL_TOKENS[1:]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _eval(*modules):
    for module in modules:
        module.eval()


def save_tiny_flux2_klein(folder: pathlib.Path) -> pathlib.Path:
    """Write a tiny distilled Flux2KleinPipeline to `folder`; return the folder."""
    from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler,
                           Flux2KleinPipeline, Flux2Transformer2DModel)
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    # The pipeline concatenates hidden layers 9, 18 and 27, so 28 layers are needed.
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=TEXT_WIDTH, intermediate_size=32,
        num_hidden_layers=28, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
        max_position_embeddings=1024))
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4,
        norm_num_groups=4, sample_size=64)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=3 * TEXT_WIDTH,
        timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False)
    _eval(text_encoder, vae, transformer)
    pipeline = Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, transformer=transformer, is_distilled=True)
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_kontext(folder: pathlib.Path) -> pathlib.Path:
    """Write a tiny FluxKontextPipeline to `folder`; return the folder."""
    from diffusers import (AutoencoderKL, FlowMatchEulerDiscreteScheduler,
                           FluxKontextPipeline, FluxTransformer2DModel)
    from transformers import (CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config,
                              T5EncoderModel, T5Tokenizer)

    torch.manual_seed(0)
    clip_vocabulary = byte_vocabulary(['<|startoftext|>', '<|endoftext|>'], suffix='</w>')
    clip_tokenizer = CLIPTokenizer(vocab=clip_vocabulary, merges=[], model_max_length=77)
    t5_pieces = [('<pad>', 0.0), ('</s>', 0.0), ('<unk>', 0.0)]
    t5_pieces += [(chr(code), -1.0) for code in range(32, 127)]
    t5_tokenizer = T5Tokenizer(vocab=t5_pieces, extra_ids=0, model_max_length=512)
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(clip_tokenizer), hidden_size=TEXT_WIDTH, intermediate_size=32,
        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
        projection_dim=TEXT_WIDTH, bos_token_id=clip_tokenizer.bos_token_id,
        eos_token_id=clip_tokenizer.eos_token_id, pad_token_id=clip_tokenizer.pad_token_id))
    t5 = T5EncoderModel(T5Config(
        vocab_size=len(t5_tokenizer), d_model=TEXT_WIDTH, d_kv=8, d_ff=32, num_layers=1,
        num_heads=2))
    vae = AutoencoderKL(
        down_block_types=('DownEncoderBlock2D',) * 4, up_block_types=('UpDecoderBlock2D',) * 4,
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4,
        norm_num_groups=4, sample_size=64, scaling_factor=0.3611, shift_factor=0.1159,
        use_quant_conv=False, use_post_quant_conv=False)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=TEXT_WIDTH,
        pooled_projection_dim=TEXT_WIDTH, guidance_embeds=True, axes_dims_rope=(4, 6, 6))
    _eval(clip, t5, vae, transformer)
    pipeline = FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=clip,
        tokenizer=clip_tokenizer, text_encoder_2=t5, tokenizer_2=t5_tokenizer,
        transformer=transformer)
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder


def _define_image_only_processor():
    from transformers import Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwenProcessor(Qwen2VLProcessor):
        """Qwen2VLProcessor with an image processor and a tokenizer only."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token = '<|image_pad|>'
            self.video_token = '<|video_pad|>'
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwenProcessor


ImageOnlyQwenProcessor = _define_image_only_processor()


def save_tiny_qwen_edit_plus(folder: pathlib.Path) -> pathlib.Path:
    """Write a tiny QwenImageEditPlusPipeline to `folder`; return the folder.

    Callers shrink the module constants VAE_IMAGE_SIZE and CONDITION_IMAGE_SIZE of
    diffusers' pipeline_qwenimage_edit_plus; the defaults (about 1 MP and 384x384)
    make each call take seconds.
    """
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler,
                           QwenImageEditPlusPipeline, QwenImageTransformer2DModel)
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil)

    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    token_id = tokenizer.convert_tokens_to_ids
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=TEXT_WIDTH, intermediate_size=32,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
            max_position_embeddings=2048,
            rope_parameters={'rope_type': 'default', 'rope_theta': 1e6,
                             'mrope_section': [1, 1, 2]},
            bos_token_id=token_id('<|endoftext|>'), eos_token_id=token_id('<|im_end|>')),
        vision_config=dict(
            depth=1, hidden_size=16, intermediate_size=32, num_heads=2,
            out_hidden_size=TEXT_WIDTH, fullatt_block_indexes=[0], window_size=112),
        image_token_id=token_id('<|image_pad|>'), video_token_id=token_id('<|video_pad|>'),
        vision_start_token_id=token_id('<|vision_start|>'),
        vision_end_token_id=token_id('<|vision_end|>')))
    processor = ImageOnlyQwenProcessor(image_processor=Qwen2VLImageProcessorPil(),
                                       tokenizer=tokenizer)
    vae = AutoencoderKLQwenImage(
        base_dim=8, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=TEXT_WIDTH, axes_dims_rope=(4, 6, 6))
    _eval(text_encoder, vae, transformer)
    pipeline = QwenImageEditPlusPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, processor=processor, transformer=transformer)
    pipeline.save_pretrained(folder, safe_serialization=True)
    # Record the processor class of the real checkpoints; loaders pass the image-only
    # processor (see `load_image_only_processor`) because that class needs torchvision.
    index_path = pathlib.Path(folder) / 'model_index.json'
    index = json.loads(index_path.read_text())
    index['processor'] = ['transformers', 'Qwen2VLProcessor']
    index_path.write_text(json.dumps(index, indent=2))
    return folder


def load_image_only_processor(folder: pathlib.Path):
    """Load the processor saved by `save_tiny_qwen_edit_plus` in `folder`."""
    return ImageOnlyQwenProcessor.from_pretrained(pathlib.Path(folder) / 'processor')


def save_tiny_qwen_lora(model_folder: pathlib.Path, lora_folder: pathlib.Path) -> pathlib.Path:
    """Write a random LoRA for the transformer in `model_folder`; return the file."""
    from diffusers import QwenImageEditPlusPipeline, QwenImageTransformer2DModel
    from peft import LoraConfig, get_peft_model_state_dict

    torch.manual_seed(1)
    transformer = QwenImageTransformer2DModel.from_pretrained(model_folder,
                                                              subfolder='transformer')
    # Random (not zero) B matrices, so the LoRA changes the output.
    transformer.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights=False,
                                       target_modules=['to_q', 'to_k', 'to_v']))
    QwenImageEditPlusPipeline.save_lora_weights(
        lora_folder, transformer_lora_layers=get_peft_model_state_dict(transformer),
        safe_serialization=True)
    return pathlib.Path(lora_folder) / 'pytorch_lora_weights.safetensors'
