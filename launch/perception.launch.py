"""Perception node alone: camera images -> V-JEPA 2 embeddings (and the encode_image service).

    ros2 launch launch/perception.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt device:=cuda \
        camera_topic:=/camera/camera/color/image_raw [backend:=onnxruntime onnx_path:=/tmp/vitg.onnx] [namespace:=...]

Parameters: launch/config/perception.yaml (section encoder_node), then the launch arguments. The camera topic is
remapped onto the node's `camera/image_raw`. By default preset and input size come from the checkpoint itself.
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from jepa_bringup.launch_support import node_parameters

CONFIG_DIR = Path(__file__).resolve().parent / "config"

# Launch argument -> (default, type, description); each overrides the node parameter of the same name.
PARAMETER_ARGUMENTS = {
    "checkpoint": ("", str, "Encoder checkpoint, e.g. Meta's vjepa2-ac-vitg.pt (required unless random weights)."),
    "preset": ("auto", str, "Encoder or AC preset of the checkpoint; auto = stored config, else inferred from shapes."),
    "image_size": ("0", int, "Model input side, px; 0 = the size the checkpoint's encoder was built for."),
    "checkpoint_key": ("encoder", str, "Checkpoint entry: 'encoder' (AC checkpoints) or 'target_encoder'."),
    "device": ("cpu", str, "Torch device: cpu, cuda, cuda:1."),
    "dtype": ("float32", str, "'float32' or 'bfloat16' (torch backend)."),
    "backend": ("torch", str, "'torch' or 'onnxruntime'."),
    "onnx_path": ("", str, "ONNX file for backend onnxruntime (exported there on first use)."),
}


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and start `encoder_node` with perception.yaml plus the argument overrides."""
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, _, description) in PARAMETER_ARGUMENTS.items()
    ]
    declared += [
        DeclareLaunchArgument(
            "camera_topic", default_value="camera/image_raw", description="Camera image topic (sensor_msgs/Image)."
        ),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and its topics."),
    ]
    overrides = {  # typed explicitly: a path or "" must not be read as YAML
        name: ParameterValue(LaunchConfiguration(name), value_type=value_type)
        for name, (_, value_type, _) in PARAMETER_ARGUMENTS.items()
    }
    node = Node(
        package="jepa_perception",
        executable="encoder_node",
        name="encoder_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        # The yaml section is merged here rather than passed as a file: rcl would not apply a plain `encoder_node:`
        # section to a node started in a namespace.
        parameters=[node_parameters(CONFIG_DIR, ["perception.yaml"], "encoder_node"), overrides],
        remappings=[("camera/image_raw", LaunchConfiguration("camera_topic"))],
    )
    return LaunchDescription([*declared, node])
