"""Name-to-factory registries for translators, segmenters and other backends.

A backend is chosen by a short name in the parameters (`classical`, `flux2-klein`,
`onnx`, ...). A name that contains a colon, `package.module:ClassName`, is imported
instead, so users can plug in their own backend without editing this package.
"""

from __future__ import annotations

import importlib
from typing import Callable, Dict, Generic, List, TypeVar, Union

from ttm_ros.core.errors import ConfigurationError

T = TypeVar('T')


class Registry(Generic[T]):
    """Maps backend names of one kind to factories that build them."""

    def __init__(self, kind: str):
        self.kind = kind
        # A value is a factory, or a "module:attribute" path imported on first use so
        # that choosing the classical translator never imports torch.
        self._factories: Dict[str, Union[str, Callable[..., T]]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Return a decorator that registers a factory (usually a class) under `name`."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f'{self.kind} {name!r} is registered twice')
            self._factories[name] = factory
            return factory

        return decorator

    def register_lazy(self, name: str, target: str) -> None:
        """Register `name` for the factory at `target` ("package.module:attribute")."""
        if name in self._factories:
            raise ValueError(f'{self.kind} {name!r} is registered twice')
        self._factories[name] = target

    def names(self) -> List[str]:
        """Return the registered names, sorted."""
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """Return the factory for `name`, importing `module:attribute` names on demand."""
        target = self._factories.get(name, name)
        if callable(target):
            return target
        if ':' in target:
            module_name, _, attribute = target.partition(':')
            try:
                factory = getattr(importlib.import_module(module_name), attribute)
            except ModuleNotFoundError as error:
                raise ConfigurationError(
                    f'{self.kind} {name!r} needs the Python module {error.name!r}, '
                    f'which is not installed: {error}. Install it (see the README) '
                    'or choose another backend.'
                ) from error
            except (ImportError, AttributeError) as error:
                raise ConfigurationError(
                    f'cannot import {self.kind} {name!r}: {error}. '
                    'Use "package.module:ClassName" with the module on PYTHONPATH.'
                ) from error
            self._factories[name] = factory
            return factory
        raise ConfigurationError(
            f'unknown {self.kind} {name!r}; choose one of {", ".join(self.names())} '
            'or give "package.module:ClassName".'
        )

    def create(self, name: str, *args, **kwargs) -> T:
        """Build the backend registered under `name` with the given arguments."""
        return self.get(name)(*args, **kwargs)
