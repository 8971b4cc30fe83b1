"""Translator registry: pick a translator by name (`translator.name` parameter).

Built-in names are imported lazily, so the classical and identity translators work
without torch or diffusers installed.
"""

from ttm_ros.core.registry import Registry
from ttm_ros.core.translators.base import Translator, TranslatorSettings

TRANSLATORS: Registry[Translator] = Registry('translator')
TRANSLATORS.register_lazy('identity', 'ttm_ros.core.translators.identity:IdentityTranslator')
TRANSLATORS.register_lazy('classical', 'ttm_ros.core.translators.classical:ClassicalTranslator')
TRANSLATORS.register_lazy('flux2-klein', 'ttm_ros.core.translators.flux2_klein:Flux2KleinTranslator')
TRANSLATORS.register_lazy('kontext', 'ttm_ros.core.translators.kontext:KontextTranslator')
TRANSLATORS.register_lazy('qwen-edit', 'ttm_ros.core.translators.qwen_edit:QwenEditTranslator')


def build_translator(name: str, settings: TranslatorSettings) -> Translator:
    """Build the translator registered under `name` (or a `module:Class` path)."""
    return TRANSLATORS.create(name, settings)


__all__ = ['TRANSLATORS', 'Translator', 'TranslatorSettings', 'build_translator']
