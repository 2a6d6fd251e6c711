"""Test helpers, outside the library's core: CLUE-format fixture writers (no framework)
and tiny Google-format checkpoints (written with TensorFlow), for the tests and the demo."""
