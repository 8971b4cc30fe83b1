"""ROS-free core of ttm_ros. Nothing under this package imports rclpy."""
