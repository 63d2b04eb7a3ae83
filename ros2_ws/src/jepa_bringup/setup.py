from glob import glob

from setuptools import find_packages, setup

PACKAGE = "jepa_bringup"
# `launch` links to the repository's launch/ (their one source), installed as share/jepa_bringup/{launch,config,rviz}.
LAUNCH_FILES = {"launch": "launch/*.launch.py", "config": "launch/config/*.yaml", "rviz": "launch/rviz/*.rviz"}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *((f"share/{PACKAGE}/{folder}", sorted(glob(pattern))) for folder, pattern in LAUNCH_FILES.items()),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="JEPA ROS team",
    maintainer_email="jepa-ros@example.org",
    description="One-process composition of the stack, the simulated demo and its report, the launch files.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "demo = jepa_bringup.demo:main",
            "bringup = jepa_bringup.bringup:main",
        ]
    },
)
