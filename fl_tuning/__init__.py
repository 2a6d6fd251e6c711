"""FL-Tuning (arXiv 2206.15312): the faithful TensorFlow 1.15 / Keras 2.3.1 / bert4keras
0.10.8 port and what is shared with other frameworks. Importing the package imports no
framework: the Keras side is ``fl_tuning.keras``."""
__version__ = '0.1.0'
