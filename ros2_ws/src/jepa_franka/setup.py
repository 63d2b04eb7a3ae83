from setuptools import find_packages, setup

PACKAGE = "jepa_franka"

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
    description="Franka FR3 (franka_ros2) adapter: flange state from the TCP pose, targets to impedance equilibria.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "franka_adapter = jepa_franka.franka_adapter:main",
        ]
    },
)
