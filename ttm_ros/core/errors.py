"""Exception types shared by the core and the nodes.

The nodes catch `FrameError` per frame (log, count, skip) and let `ConfigurationError`
end the start-up with its message, so every message must name the value and the fix.
"""


class TTMError(Exception):
    """Base class of every error raised on purpose by ttm_ros."""


class ConfigurationError(TTMError):
    """A parameter, model path or configuration file is invalid; raised at start-up."""


class FrameError(TTMError):
    """One frame cannot be processed (bad encoding, corrupt data, wrong size)."""


class TranslationRejected(TTMError):
    """A translation is unusable (non-finite, empty or all black).

    The pipeline falls back to the original frame and counts the event.
    """
