"""The APT probe: per layer, the learned layer weight lambda_l and the token gates
g_l averaged over the dev set's sequences and the prefix tokens (APT's analysis of
which layers a task relies on), on either framework."""
import numpy as np

import os

from fl_tuning.errors import InputError
from fl_tuning.manifests import manifest_method_set
from fl_tuning.prediction import progress_bar
from fl_tuning.saved_run import SavedRun
from fl_tuning.tasks.base import batches, collate
from fl_tuning.weight_files import check_weights_file, read_manifest


def probe_gates(weights_path, model_dir=None, data_dir='./clue_dataset', checkpoint=None,
                progress=True, log=print, framework='keras', device=None):
    """One dict per layer: layer, layer_weight, mean_gate, min_gate, max_gate (the
    token gates' mean over the run's dev sequences, then their mean, min and max over
    prefixes)."""
    check_weights_file(weights_path)
    manifest = read_manifest(weights_path)
    if 'apt' not in manifest_method_set(manifest):
        raise InputError('%s was tuned with %s, not apt: it has no gates to probe' % (
            weights_path, manifest.get('method', 'other methods')))
    saved = SavedRun(weights_path, model_dir or os.path.dirname(manifest['checkpoint']), checkpoint, log)
    # the run's own dev files (FewCLUE's dev_0.json ...), read as one set
    encoded = saved.encode(saved.read_together(saved.dev_paths(data_dir), 'dev',
                                               why='the gates are averaged over the dev set; give --data-dir'))
    # no local holds the probe: TensorFlow 1.15 keeps this frame alive through the trainer's
    # (built below), and a Keras function alive at exit prints an error
    return mean_gates(saved.trainer(framework, device).gate_probe(), saved.task, encoded, progress)


def mean_gates(probe, task, encoded, progress):
    sums, sequences, layer_weights = 0, 0, None
    batch_size = task.hyperparameters['batch_size']
    total = int(np.ceil(len(encoded) / float(batch_size)))
    for batch in progress_bar(progress, batches(encoded, batch_size, shuffle=False), 'gates', total):
        inputs, _ = collate(task, batch)
        layer_weights, gates = probe(inputs)  # gates: [layers, sequences, prefixes]
        sums = sums + gates.sum(1)
        sequences += gates.shape[1]
    mean_per_prefix = sums / sequences
    return [{'layer': i, 'layer_weight': float(weight), 'mean_gate': float(mean_per_prefix[i].mean()),
             'min_gate': float(mean_per_prefix[i].min()), 'max_gate': float(mean_per_prefix[i].max())}
            for i, weight in enumerate(layer_weights)]


def gates_table(rows):
    lines = ['layer  layer weight  mean gate  min gate  max gate  weight x mean gate']
    lines += ['%5d  %12.5f  %9.5f  %8.5f  %8.5f  %18.5f' % (
        r['layer'], r['layer_weight'], r['mean_gate'], r['min_gate'], r['max_gate'],
        r['layer_weight'] * r['mean_gate']) for r in rows]
    return '\n'.join(lines)
