"""Build script for ttm_ros: an ament_python package that also installs with pip."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'ttm_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    package_data={PACKAGE: ['py.typed']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + PACKAGE + '/config/fastdds', glob('config/fastdds/*.xml')),
        ('share/' + PACKAGE + '/config/models', glob('config/models/*.yaml')),
        ('share/' + PACKAGE + '/config/class_maps', glob('config/class_maps/*.yaml')),
        ('share/' + PACKAGE + '/config/prompts', glob('config/prompts/*.yaml')),
        ('share/' + PACKAGE + '/config/prompts/tasks', glob('config/prompts/tasks/*.yaml')),
    ],
    python_requires='>=3.10',
    install_requires=['setuptools', 'numpy', 'pyyaml', 'pillow', 'opencv-python-headless'],
    extras_require={
        'editors': ['torch', 'diffusers>=0.42', 'transformers>=5', 'accelerate', 'safetensors'],
        'onnx': ['onnxruntime'],
        'eval': ['rosbags', 'pycocotools'],
    },
    zip_safe=True,
    maintainer='ttm_ros maintainers',
    maintainer_email='maintainers@ttm-ros.invalid',
    description='Test-Time Modification of camera frames for robust ROS 2 perception.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'ttm-ros = ttm_ros.cli:main',
            'ttm_node = ttm_ros.ros.ttm_node:main',
            'ttm_lifecycle_node = ttm_ros.ros.ttm_node:main_managed',
            'detection_node = ttm_ros.ros.detection_node:main',
        ],
    },
)
