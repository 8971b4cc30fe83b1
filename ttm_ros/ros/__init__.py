"""Thin rclpy shells around ttm_ros.core: parameters, QoS, topics, diagnostics."""
