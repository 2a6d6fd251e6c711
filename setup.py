from setuptools import find_packages, setup

setup(
    name='fl-tuning',
    version='0.1.0',
    description='FL-Tuning (arXiv 2206.15312) on TensorFlow 1.15, Keras 2.3.1 and bert4keras 0.10.8',
    packages=find_packages(include=['fl_tuning', 'fl_tuning.*']),
    package_data={'fl_tuning': ['demo_data/*/*.json']},
    python_requires='>=3.6,<3.8',
)
