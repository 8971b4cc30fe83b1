"""Replay evaluation: dataset and rosbag2 readers, the offline and live paths, reports.

Everything here except `live` runs without rclpy.
"""
