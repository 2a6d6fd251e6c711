from setuptools import find_packages, setup

setup(
    name='fl-tuning',
    version='0.1.0',
    description='FL-Tuning (arXiv 2206.15312) on bert4keras 0.10.8: TensorFlow 1.15 with Keras 2.3.1, or TensorFlow 2.15',
    packages=find_packages(include=['fl_tuning', 'fl_tuning.*']),
    package_data={'fl_tuning': ['demo_data/*/*.json']},
    python_requires='>=3.6,<3.12',  # 3.7: the TF 1.15 stack; 3.10, 3.11: the TF 2.15 stack
)
