"""What a tuned-weights file says about itself (its manifest), checked against the
model it is loaded onto, and the fingerprints that identify the files a run read.
No framework: each framework's weights module writes and reads the files."""
import hashlib
import json

from fl_tuning.errors import InputError
from fl_tuning.methods import describe, method_set_from_sizes

FORMAT = 'fl-tuning-weights/1'
STATE_FORMAT = FORMAT + '/state'  # a run's resumable state, beside its tuned weights
# Manifest entries that must match the model a file is loaded onto.
MUST_MATCH = ('backbone', 'task', 'methods', 'checkpoint_fingerprint', 'vocab_fingerprint')


def fingerprint(path):
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return 'sha256:' + digest.hexdigest()


def checkpoint_fingerprint(prefix):
    # The .index holds every tensor's name, shape and CRC32C, so it identifies the
    # checkpoint's values without reading its (large) data files.
    return fingerprint(prefix + '.index')


def manifest_method_set(manifest):
    """The method set a file was tuned with (files before methods were named: its sizes)."""
    if 'methods' in manifest:
        return manifest['methods']
    return method_set_from_sizes(manifest['ffn_prompt_size'], manifest['prompt_size'])


def check_manifest(manifest, expected, path):
    """Refuse a file whose manifest disagrees with ``expected`` on MUST_MATCH."""
    saved = dict(manifest, methods=manifest_method_set(manifest))
    for key in MUST_MATCH:
        if key not in expected:
            continue
        mine, theirs = json.loads(json.dumps(expected[key])), saved.get(key)
        if theirs != mine:
            if key == 'methods':
                theirs, mine = describe(theirs), describe(mine)
            raise InputError('%s was tuned with %s = %s, but this model has %s: refusing to load it'
                             % (path, key, theirs, mine))
