from setuptools import find_packages, setup

PACKAGE = "jepa_perception"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="JEPA ROS team",
    maintainer_email="jepa-ros@example.org",
    description="Perception node: camera images to V-JEPA 2 embeddings (torch or ONNX Runtime).",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["encoder_node = jepa_perception.encoder_node:main"]},
)
