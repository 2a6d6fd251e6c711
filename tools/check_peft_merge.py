#!/usr/bin/env python3
"""The peft route checked against an export, without TensorFlow.

Builds the pretrained backbone from MODEL_DIR (its Google-format checkpoint, with the
run's simplified vocabulary), adds FL-tuning with ``get_peft_model(model,
FLTuningConfig(...))``, loads the added units from WEIGHTS (a tuned-weights file of either
framework), merges them with ``merge_and_unload()`` and compares the plain model that results
with EXPORT (what ``export`` wrote from the faithful port's run): its weights against
EXPORT/hf, its last layer on EXPORT/golden.npz against the Keras model's. Prints one
JSON object; exit status 1 when a difference is above --tolerance.

    .venv-modern/bin/python tools/check_peft_merge.py EXPORT_DIR WEIGHTS MODEL_DIR [--tolerance 1e-5]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
from peft import get_peft_model

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.model_files import ModelFiles, read_config  # noqa: E402
from fl_tuning.tf_checkpoint import CheckpointReader  # noqa: E402
from fl_tuning.torch.backbones import hf_config, hf_model, load_google_checkpoint  # noqa: E402
from fl_tuning.torch.peft_method import FLTuningConfig  # noqa: E402 (also makes peft know it)
from fl_tuning.weight_files import read_layers, read_manifest  # noqa: E402
from fl_tuning.vocab import Vocabulary  # noqa: E402

HF_MODELS = {'bert': transformers.BertModel, 'roformer': transformers.RoFormerModel,
             'nezha': getattr(transformers, 'NezhaModel', None)}


def peft_merged(manifest, layers, model_dir):
    backbone = manifest['backbone']
    files = ModelFiles(model_dir, None, backbone, lambda message: None)
    keep_tokens = Vocabulary(files.vocab).keep_tokens
    model = hf_model(backbone, hf_config(backbone, read_config(files.config), len(keep_tokens)))
    load_google_checkpoint(model, backbone, CheckpointReader(files.checkpoint), keep_tokens)
    extra_units = manifest['methods']['fl']['ffn_prompt_size']
    tuned = get_peft_model(model, FLTuningConfig(extra_units=extra_units))
    with torch.no_grad():
        for index, layer in enumerate(tuned.base_model.model.encoder.layer):
            kernel_in, bias_in, kernel_out, bias_out = layers['Transformer-%d-FeedForward' % index]  # Keras layout
            for linear, kernel, bias in ((layer.intermediate.dense, kernel_in, bias_in),
                                         (layer.output.dense, kernel_out, bias_out)):
                units = linear.fl_tuning_units['default']
                units.weight.copy_(torch.from_numpy(kernel.T.copy()))
                units.bias.copy_(torch.from_numpy(bias))
    return tuned.merge_and_unload().eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('export_dir')
    parser.add_argument('weights')
    parser.add_argument('model_dir')
    parser.add_argument('--tolerance', type=float, default=1e-5)
    args = parser.parse_args()
    manifest = read_manifest(args.weights)
    merged = peft_merged(manifest, read_layers(args.weights), args.model_dir)
    exported = HF_MODELS[manifest['backbone']].from_pretrained(os.path.join(args.export_dir, 'hf')).eval()
    exported_weights = dict(exported.named_parameters())
    with torch.no_grad():
        weight_difference = max(float((p - exported_weights[name]).abs().max()) for name, p in merged.named_parameters())
    golden = np.load(os.path.join(args.export_dir, 'golden.npz'))
    token_ids = torch.from_numpy(golden['token_ids']).long()
    inputs = dict(input_ids=token_ids, token_type_ids=torch.from_numpy(golden['segment_ids']).long(),
                  attention_mask=(token_ids > 0).long())
    mask = (token_ids > 0).numpy()[..., None]
    with torch.no_grad():
        ours = merged(**inputs).last_hidden_state.numpy()
        theirs = exported(**inputs).last_hidden_state.numpy()
    result = {
        'intermediate_size': merged.config.intermediate_size,
        'exported_intermediate_size': exported.config.intermediate_size,
        'weights_vs_export': weight_difference,
        'last_layer_vs_export': float(np.max(np.abs(ours - theirs) * mask)),
        'last_layer_vs_keras': float(np.max(np.abs(ours - golden['last_layer']) * mask)),
    }
    print(json.dumps(result))
    differences = [v for k, v in result.items() if k.endswith(('export', 'keras'))]
    return 0 if max(differences) <= args.tolerance and result['intermediate_size'] == \
        result['exported_intermediate_size'] else 1


if __name__ == '__main__':
    sys.exit(main())
