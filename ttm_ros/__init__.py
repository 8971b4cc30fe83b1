"""ttm_ros: Test-Time Modification of camera frames for ROS 2 perception.

`ttm_ros.core` is the ROS-free library (codec, translators, segmenters, fusion,
pipeline); `ttm_ros.ros` holds the thin rclpy nodes; `ttm_ros.cli` is the
`ttm-ros` command.
"""

__version__ = '0.1.0'
