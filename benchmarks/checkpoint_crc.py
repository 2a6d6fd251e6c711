"""What the NumPy checkpoint reader's CRC32C check costs: a random checkpoint of
BERT-base's encoder (12 layers x 768, feed-forward 3072; the tiny vocabulary) written once
with TensorFlow, then every variable read with fl_tuning.tf_checkpoint.CheckpointReader
(which checks each one's CRC32C) and the CRC32C of the same bytes alone. Best of 3.

    .venv/bin/python benchmarks/checkpoint_crc.py
"""
import os
import sys
import tempfile
import time

import google_crc32c

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from fl_tuning.testing.tiny import write_tiny_model  # noqa: E402
from fl_tuning.tf_checkpoint import CheckpointReader  # noqa: E402

BERT_BASE_ENCODER = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


def best_of(repeats, work):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    folder = tempfile.mkdtemp(prefix='crc-')
    _, prefix, _ = write_tiny_model('bert', folder, **BERT_BASE_ENCODER)
    reader = CheckpointReader(prefix)
    names = sorted(reader.entries)
    path = reader.data_path(0)
    with open(path, 'rb') as f:
        data = f.read()
    chunks = [data[e.offset:e.offset + e.size] for e in (reader.entries[n] for n in names)]

    read_all = best_of(3, lambda: [reader.read(name) for name in names])
    crc_only = best_of(3, lambda: [google_crc32c.value(chunk) for chunk in chunks])
    print('%d variables, %.1f MB; google-crc32c, %s implementation' % (
        len(names), len(data) / 1e6, google_crc32c.implementation))
    print('reading every variable (CRC32C checked): %.3f s; the CRC32C alone: %.3f s (%.1f%% of the read, '
          '%.2f GB/s)' % (read_all, crc_only, 100 * crc_only / read_all, len(data) / crc_only / 1e9))


if __name__ == '__main__':
    main()
