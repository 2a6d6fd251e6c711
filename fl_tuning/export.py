"""Exporting a tuned run as a plain backbone, for other implementations to load and check:

- ``tf/``: a Google-format checkpoint of the merged backbone, its ``bert_config.json``
  and the simplified vocabulary the run used (token ids match the embedding rows);
- ``hf/``: the same backbone in Hugging Face transformers' layout (``config.json``,
  ``model.safetensors``, vocabulary and tokenizer config);
- ``head.json`` and ``head.safetensors``: the task head;
- ``golden.npz``: inputs and the tuned model's last-layer and head outputs (of the
  run's dev files where they still are, or of ``--data-dir``/``--texts``; without any,
  the export is written without it and says how to add it).

Only methods whose training a plain backbone can hold fold (``TuningMethod.folds``);
the others are refused by name. Either framework exports a run either one trained: the
folding, the head and the golden outputs come through its trainer
(fl_tuning.framework); the files are written here.
"""
import json
import os

import numpy as np

from fl_tuning.checkpoint_layout import hf_config, hf_weights
from fl_tuning.data_files import atomic_directory, check_writable_folder
from fl_tuning.errors import InputError
from fl_tuning.framework import load_framework
from fl_tuning.methods import REGISTRY, describe
from fl_tuning.saved_run import SavedRun
from fl_tuning.tasks.base import collate
from fl_tuning.tf_checkpoint import write_checkpoint

GOLDEN_SIZE = 8
EXPORT_RECORD = 'export.json'


def export(weights_path, model_dir, output_dir, data_dir=None, texts=None, golden_size=None,
           checkpoint=None, log=print, framework='keras', device=None):
    """Write the export of ``weights_path`` (tuned from ``model_dir``) to ``output_dir``;
    golden inputs are the first ``golden_size`` dev examples under ``data_dir`` or the
    records of ``texts`` (a file in the task's test format), else of the run's own dev
    files if they are still there; without any, no golden outputs. Returns ``output_dir``."""
    check_writable_folder(output_dir)
    check_output_dir(output_dir)
    saved = SavedRun(weights_path, model_dir, checkpoint, log)
    refuse_unfoldable(saved.method_set)
    examples, golden_source = golden_examples(saved, data_dir, texts, golden_size or GOLDEN_SIZE)
    trainer = saved.trainer(framework, device)
    config, variables = trainer.exported_backbone()
    head, head_weights = trainer.exported_head(saved.task)
    head['task'] = saved.task.name
    golden = golden_outputs(saved, trainer, examples) if examples else None
    vocabulary = ''.join(token + '\n' for token, _ in sorted(saved.token_dict.items(), key=lambda t: t[1]))
    backbone = saved.manifest['backbone']
    with atomic_directory(output_dir) as staging:
        tf_dir, hf_dir = os.path.join(staging, 'tf'), os.path.join(staging, 'hf')
        os.makedirs(tf_dir)
        os.makedirs(hf_dir)
        write_checkpoint(os.path.join(tf_dir, 'bert_model.ckpt'), variables)
        write_json(os.path.join(tf_dir, 'bert_config.json'), config)
        write_json(os.path.join(hf_dir, 'config.json'), hf_config(backbone, config))
        save_safetensors(hf_weights(backbone, config, variables), os.path.join(hf_dir, 'model.safetensors'))
        write_json(os.path.join(hf_dir, 'tokenizer_config.json'), {
            'tokenizer_class': 'BertTokenizer', 'do_lower_case': True,
            'model_max_length': config.get('max_position_embeddings', 512)})
        for folder in (tf_dir, hf_dir):
            with open(os.path.join(folder, 'vocab.txt'), 'w', encoding='utf-8') as f:
                f.write(vocabulary)
        write_json(os.path.join(staging, 'head.json'), head)
        save_safetensors(head_weights, os.path.join(staging, 'head.safetensors'))
        if golden is not None:
            np.savez(os.path.join(staging, 'golden.npz'), **golden)
        write_json(os.path.join(staging, EXPORT_RECORD), {
            'weights': os.path.abspath(weights_path), 'backbone': backbone, 'task': saved.task.name,
            'methods': saved.method_set, 'method': describe(saved.method_set),
            'intermediate_size': config['intermediate_size'], 'golden_examples': len(examples),
            'golden_source': golden_source, 'framework': framework,
            'versions': load_framework(framework).library_versions()})
    golden_part = ('golden outputs of %d examples (%s)' % (len(examples), golden_source) if examples else
                   'no golden outputs (the run\'s dev files are not where it read them: add them with '
                   '--data-dir DIR or --texts FILE)')
    log('exported %s (%s on %s, %s) to %s: tf/, hf/, head, %s' % (
        weights_path, saved.task.name, backbone, describe(saved.method_set), output_dir, golden_part))
    return output_dir


def refuse_unfoldable(method_set):
    for name in method_set:
        method = REGISTRY[name]
        if not method.folds:
            foldable = ', '.join(n for n, m in REGISTRY.items() if m.folds)
            raise InputError('cannot export %s: %s, so it is no plain backbone (export supports %s '
                             'and their combinations)' % (name, method.why_not_foldable, foldable))


def golden_examples(saved, data_dir, texts, size):
    """(examples, where they come from) of the golden outputs; ([], None) for none."""
    if texts:
        paths, split = [texts], 'test'
    elif data_dir:
        paths, split = saved.dev_paths(data_dir), 'dev'
    else:
        paths, split = saved.manifest.get('dev_paths', []), 'dev'
        if not paths or not all(os.path.isfile(path) for path in paths):
            return [], None
    examples = saved.read_together(paths, split)
    if not examples:
        raise InputError('no examples for the golden outputs in %s' % ', '.join(paths))
    return examples[:size], ', '.join(os.path.abspath(path) for path in paths)


def golden_outputs(saved, trainer, examples):
    """Inputs (by the task's input names), last-layer and head outputs of ``examples``."""
    inputs, _ = collate(saved.task, saved.encode(examples), with_labels=False)
    golden = dict(zip(saved.task.input_names, [np.asarray(i, dtype='int32') for i in inputs]))
    golden.update(trainer.named_outputs(inputs))
    return golden


def save_safetensors(tensors, path):
    from safetensors.numpy import save  # only the export needs it
    data = save(dict((name, np.ascontiguousarray(value, dtype='float32')) for name, value in tensors.items()),
                metadata={'format': 'pt'})
    with open(path, 'wb') as f:  # by Python, which reports a full disk (safetensors' writer does not)
        f.write(data)


def write_json(path, value):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write('\n')


def check_output_dir(output_dir):
    """An export replaces an earlier export, never another folder's contents."""
    if os.path.isdir(output_dir) and os.listdir(output_dir) \
            and not os.path.isfile(os.path.join(output_dir, EXPORT_RECORD)):
        raise InputError('output dir %s exists and holds no export: choose another --output-dir' % output_dir)
