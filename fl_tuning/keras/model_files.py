"""A pretrained model's files (config, vocabulary, checkpoint), found in its folder
and checked against each other: used by training, prediction and export alike."""
import glob
import os

from fl_tuning.keras.checkpoints import check_model_files
from fl_tuning.keras.compat import tf1
from fl_tuning.errors import InputError
from fl_tuning.manifests import checkpoint_fingerprint, fingerprint


class ModelFiles(object):
    """The pretrained model's files, found and checked against each other."""

    def __init__(self, model_dir, checkpoint, backbone, log):
        if not os.path.isdir(model_dir):
            raise InputError('model dir not found: %s' % model_dir)
        self.config = os.path.join(model_dir, 'bert_config.json')
        self.vocab = os.path.join(model_dir, 'vocab.txt')
        for path, what in ((self.config, 'model config'), (self.vocab, 'vocabulary')):
            if not os.path.isfile(path):
                raise InputError('%s not found: %s' % (what, path))
        self.checkpoint = locate_checkpoint(model_dir, checkpoint)
        check_model_files(backbone, self.config, self.checkpoint, self.vocab, warn=log)
        self.fingerprints = {'checkpoint_fingerprint': checkpoint_fingerprint(self.checkpoint),
                             'vocab_fingerprint': fingerprint(self.vocab)}


def locate_checkpoint(model_dir, checkpoint=None):
    """The checkpoint prefix: ``checkpoint`` if given (absolute or in the model dir),
    else the one the ``checkpoint`` file names, else the single ``*.index``."""
    if checkpoint:
        prefix = checkpoint if os.path.exists(checkpoint + '.index') else os.path.join(model_dir, checkpoint)
        if not os.path.exists(prefix + '.index'):
            raise InputError('checkpoint not found: %s (no %s.index)' % (checkpoint, prefix))
        return prefix
    named = named_checkpoint(model_dir)
    if named:
        return named
    indexes = sorted(glob.glob(os.path.join(model_dir, '*.index')))
    if len(indexes) == 1:
        return indexes[0][:-len('.index')]
    if not indexes:
        raise InputError('no TensorFlow checkpoint (*.index) in model dir %s' % model_dir)
    raise InputError('several checkpoints in %s (%s): choose one with --checkpoint' % (
        model_dir, ', '.join(os.path.basename(i)[:-len('.index')] for i in indexes)))


def named_checkpoint(model_dir):
    """The prefix the folder's ``checkpoint`` file names, if it exists there or, by its
    file name, in the folder (a moved folder's file keeps the old absolute paths)."""
    state = tf1.train.get_checkpoint_state(model_dir)
    if state is None or not state.model_checkpoint_path:
        return None
    named = state.model_checkpoint_path
    for prefix in (named, os.path.join(model_dir, os.path.basename(named))):
        if os.path.exists(prefix + '.index'):
            return prefix
    return None
