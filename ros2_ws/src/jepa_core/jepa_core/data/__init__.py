"""Data formats of the stack (ROS-free): recorded topics, rosbag2 type registry, bag -> DROID conversion, datasets."""
