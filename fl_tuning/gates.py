"""The APT probe: per layer, the learned layer weight lambda_l and the token gates
g_l averaged over the dev set's sequences and the prefix tokens (APT's analysis of
which layers a task relies on)."""
import os

import numpy as np
from fl_tuning.keras.compat import K

from fl_tuning.errors import InputError
from fl_tuning.prediction import progress_bar
from fl_tuning.keras.methods.apt import gate_name
from fl_tuning.saved_run import SavedRun
from fl_tuning.tasks.base import batches, collate
from fl_tuning.keras.framework import build_saved
from fl_tuning.weight_files import read_manifest
from fl_tuning.manifests import manifest_method_set


def probe_gates(weights_path, model_dir=None, data_dir='./clue_dataset', checkpoint=None,
                progress=True, log=print):
    """One dict per layer: layer, layer_weight, mean_gate, min_gate, max_gate (the
    token gates' mean over dev sequences, then their mean, min and max over prefixes)."""
    if not os.path.isfile(weights_path):
        raise InputError('tuned-weights file not found: %s' % weights_path)
    manifest = read_manifest(weights_path)
    if 'apt' not in manifest_method_set(manifest):
        raise InputError('%s was tuned with %s, not apt: it has no gates to probe' % (
            weights_path, manifest.get('method', 'other methods')))
    model_dir = model_dir or os.path.dirname(manifest['checkpoint'])
    saved = SavedRun(weights_path, model_dir, checkpoint, log)
    task = saved.task
    paths = saved.dev_paths(data_dir)  # the run's own dev files (FewCLUE's dev_0.json ...)
    for path in paths:
        if not os.path.isfile(path):
            raise InputError('data file not found: %s (the gates are averaged over the dev set; '
                             'give --data-dir)' % path)
    encoded = saved.encode([e for examples in saved.read(paths, 'dev') for e in examples])
    transformer, model = build_saved(saved)
    layers = [transformer.layers[gate_name(i)] for i in range(transformer.num_hidden_layers)]
    gates_of = K.function(model.inputs, [layer.gates for layer in layers])
    sums, sequences = 0, 0
    batch_size = task.hyperparameters['batch_size']
    total = int(np.ceil(len(encoded) / float(batch_size)))
    for batch in progress_bar(progress, batches(encoded, batch_size, shuffle=False), 'gates', total):
        inputs, _ = collate(task, batch)
        gates = np.stack(gates_of(inputs))  # [layers, sequences, prefixes]
        sums = sums + gates.sum(1)
        sequences += gates.shape[1]
    mean_per_prefix = sums / sequences
    return [{'layer': i, 'layer_weight': float(K.get_value(layer.layer_weight)),
             'mean_gate': float(mean_per_prefix[i].mean()), 'min_gate': float(mean_per_prefix[i].min()),
             'max_gate': float(mean_per_prefix[i].max())}
            for i, layer in enumerate(layers)]


def gates_table(rows):
    lines = ['layer  layer weight  mean gate  min gate  max gate  weight x mean gate']
    lines += ['%5d  %12.5f  %9.5f  %8.5f  %8.5f  %18.5f' % (
        r['layer'], r['layer_weight'], r['mean_gate'], r['min_gate'], r['max_gate'],
        r['layer_weight'] * r['mean_gate']) for r in rows]
    return '\n'.join(lines)
