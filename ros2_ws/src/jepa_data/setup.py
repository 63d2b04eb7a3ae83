from setuptools import find_packages, setup

PACKAGE = "jepa_data"

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
    description="Episode recorder and bag player nodes: the stack's topics to MCAP bags and back.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": ["recorder = jepa_data.recorder_node:main", "player = jepa_data.player_node:main"]
    },
)
