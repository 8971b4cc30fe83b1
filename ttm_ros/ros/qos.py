"""QoS profiles of the nodes, built from parameters, and incompatible-QoS logging."""

from __future__ import annotations

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSPolicyKind, QoSProfile,
                       ReliabilityPolicy, qos_profile_sensor_data)

try:  # Iron and newer.
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble.
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks

RELIABILITY = {
    'best_effort': ReliabilityPolicy.BEST_EFFORT,
    'reliable': ReliabilityPolicy.RELIABLE,
}


def input_qos(reliability: str, depth: int) -> QoSProfile:
    """Return the camera subscription QoS: sensor data QoS with the given reliability and depth."""
    profile = QoSProfile(depth=depth)
    profile.history = HistoryPolicy.KEEP_LAST
    profile.reliability = RELIABILITY[reliability]
    profile.durability = qos_profile_sensor_data.durability
    return profile


def output_qos(depth: int) -> QoSProfile:
    """Return the QoS of every output: reliable, volatile, keep last `depth`."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)


def latched_qos() -> QoSProfile:
    """Return a reliable, transient-local QoS for values published once (class names)."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def subscription_events(logger, topic: str) -> SubscriptionEventCallbacks:
    """Return event callbacks that log an incompatible publisher on `topic` as an error."""

    def on_incompatible(event) -> None:
        logger.error(
            f'a publisher on {topic} offers QoS incompatible with this subscription '
            f'(policy {_policy_name(event)}, {event.total_count} so far); '
            'no frames arrive from it. Set input.qos.reliability to match the camera, '
            'e.g. best_effort for sensor-data publishers.')

    return SubscriptionEventCallbacks(incompatible_qos=on_incompatible)


def publisher_events(logger, topic: str) -> PublisherEventCallbacks:
    """Return event callbacks that log an incompatible subscriber on `topic` as an error."""

    def on_incompatible(event) -> None:
        logger.error(
            f'a subscriber on {topic} requests QoS this publisher cannot offer '
            f'(policy {_policy_name(event)}, {event.total_count} so far); '
            'it receives nothing. Outputs are reliable and volatile: subscribe with '
            'reliable or best_effort and volatile durability.')

    return PublisherEventCallbacks(incompatible_qos=on_incompatible)


def _policy_name(event) -> str:
    try:
        return QoSPolicyKind(int(event.last_policy_kind)).name
    except (TypeError, ValueError):
        return str(event.last_policy_kind)
