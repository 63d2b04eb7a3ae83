"""Perception node alone: camera images -> V-JEPA 2 embeddings (and the encode_image service).

    ros2 launch jepa_bringup perception.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt device:=cuda \
        camera_topic:=/camera/camera/color/image_raw [backend:=onnxruntime onnx_path:=/tmp/vitg.onnx] [namespace:=...]

Parameters: config/perception.yaml (section encoder_node); a launch argument overrides its parameter only when given.
By default preset and input size come from the checkpoint itself.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument

ENCODER = ("encoder_node",)
CONFIG = LaunchConfig(
    __file__,
    ("perception.yaml",),
    (
        ParameterArgument.same_name("checkpoint", "Encoder checkpoint, e.g. Meta's vjepa2-ac-vitg.pt.", ENCODER),
        ParameterArgument.same_name(
            "preset", "Encoder or AC preset of the checkpoint; auto = stored config, else inferred.", ENCODER
        ),
        ParameterArgument.same_name(
            "image_size", "Model input side, px; 0 = the size the checkpoint's encoder was built for.", ENCODER, int
        ),
        ParameterArgument.same_name(
            "checkpoint_key", "Checkpoint entry: 'encoder' (AC checkpoints) or 'target_encoder'.", ENCODER
        ),
        ParameterArgument.same_name("device", "Torch device: cpu, cuda, cuda:1.", ENCODER),
        ParameterArgument.same_name("dtype", "'float32' or 'bfloat16' (torch backend).", ENCODER),
        ParameterArgument.same_name("backend", "'torch' or 'onnxruntime'.", ENCODER),
        ParameterArgument.same_name("onnx_path", "ONNX file for backend onnxruntime (exported on first use).", ENCODER),
        ParameterArgument("camera_topic", "Camera image topic (sensor_msgs/Image).", {"encoder_node": "image_topic"}),
    ),
)


def encoder_node(context) -> list:
    """`encoder_node` with its perception.yaml section and the given arguments."""
    return [
        Node(
            package="jepa_perception",
            executable="encoder_node",
            name="encoder_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[CONFIG.parameters("encoder_node", context.launch_configurations)],
            on_exit=end_launch_on_exit,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    """The parameter arguments, the namespace, and the node built from them."""
    namespace = DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and topics.")
    return LaunchDescription([*declare(CONFIG.arguments), namespace, OpaqueFunction(function=encoder_node)])
