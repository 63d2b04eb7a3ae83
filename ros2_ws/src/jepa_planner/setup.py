from setuptools import find_packages, setup

PACKAGE = "jepa_planner"

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
    description="Planner node: CEM MPC with the V-JEPA 2-AC world model, safety limits, goals, RViz markers.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "planner_node = jepa_planner.planner_node:main",
        ]
    },
)
