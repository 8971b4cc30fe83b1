"""Orderly shutdown of processes that run rclpy nodes."""

import signal


def raise_keyboard_interrupt_on_signals() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt in the main thread.

    Use with `rclpy.init(signal_handler_options=SignalHandlerOptions.NO)`. rclpy's own
    handler shuts the context down before the nodes are destroyed, so their last log
    lines and the release of the models fail; with this, the nodes go first.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
