#!/usr/bin/env python3
"""Check an fl_tuning export in PyTorch, without TensorFlow.

Loads EXPORT/hf with Hugging Face transformers (BertModel, RoFormerModel, or NezhaModel
of transformers 4.x), rebuilds the task head from EXPORT/head.json and
EXPORT/head.safetensors, runs the inputs of EXPORT/golden.npz and compares with the
TensorFlow outputs stored there: the largest absolute difference of the last layer
and of the head (over the cells the head does not mask), and the share of equal
predictions. Exit status 1 when a difference is above --tolerance or a prediction
differs; 2 on unreadable input.

    python tools/compare_transformers.py EXPORT_DIR [EXPORT_DIR ...] [--tolerance 1e-4] [--json]

It is also the reference a PyTorch port can start from: ``attention_mask`` (bert4keras'
UniLM mask from the segment ids, with padding) and the four heads are written out here.
"""
import argparse
import inspect
import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file

# bert4keras masks with this value (K.infinity()).
MASKED = 1e12


def attention_mask(token_ids, segment_ids):
    """bert4keras' mask with application='unilm': query i sees key j when j is no padding
    and no later segment than i. Every task feeds segment 0 only, so it is the padding
    mask [B, L] (what transformers 4.x and 5.x take); other segments need [B, L, L],
    which only 4.x's models take."""
    if not bool((segment_ids != 0).any()):
        return (token_ids > 0).long()
    segments = segment_ids.cumsum(1)
    visible = segments[:, None, :] <= segments[:, :, None]
    return (visible & (token_ids > 0)[:, None, :]).long()


def load_backbone(hf_dir):
    with open(os.path.join(hf_dir, 'config.json'), encoding='utf-8') as f:
        architecture = json.load(f)['architectures'][0]
    model_class = getattr(transformers, architecture, None)
    if model_class is None:
        print('error: transformers %s has no %s (NezhaModel needs transformers 4.x)'
              % (transformers.__version__, architecture), file=sys.stderr)
        raise SystemExit(2)
    options = {'attn_implementation': 'eager'}
    if 'add_pooling_layer' in inspect.signature(model_class.__init__).parameters:
        options['add_pooling_layer'] = False  # no task reads the pooler
    return model_class.from_pretrained(hf_dir, **options).eval()


def rotary(x):
    """bert4keras' RoPE on [B, L, heads, size]: interleaved (sin, cos) pairs."""
    length, size = x.shape[1], x.shape[-1]
    positions = torch.arange(length, dtype=torch.float32)[:, None]
    frequencies = torch.pow(torch.tensor(10000.0), -2 * torch.arange(size // 2, dtype=torch.float32) / size)
    angles = positions * frequencies[None]
    sin = angles.sin().repeat_interleave(2, -1)[None, :, None]
    cos = angles.cos().repeat_interleave(2, -1)[None, :, None]
    turned = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
    return x * cos + turned * sin


def global_pointer(hidden, weight, heads, head_size, mask):
    """bert4keras' GlobalPointer: [B, heads, L, L] span scores."""
    projected = (hidden @ weight.T).reshape(hidden.shape[0], hidden.shape[1], heads, 2 * head_size)
    q, k = rotary(projected[..., :head_size]), rotary(projected[..., head_size:])
    logits = torch.einsum('bmhd,bnhd->bhmn', q, k)
    mask = mask.float()
    logits = logits * mask[:, None, :, None] - MASKED * (1 - mask[:, None, :, None])
    logits = logits * mask[:, None, None, :] - MASKED * (1 - mask[:, None, None, :])
    upper = torch.triu(torch.ones_like(logits))
    return (logits - (1 - upper) * MASKED) / math.sqrt(head_size)


def head_outputs(head, weights, hidden, golden):
    kind = head['type']
    if kind == 'classifier':
        return torch.softmax(hidden[:, 0] @ weights['classifier.weight'].T + weights['classifier.bias'], -1)
    if kind == 'choice_logit':
        return hidden[:, 0] @ weights['choice_logit.weight'].T + weights['choice_logit.bias']
    if kind == 'global_pointer':
        if 'context_mask' in golden:  # cmrc2018: the context tokens, one head squeezed
            mask = torch.from_numpy(golden['context_mask']) > 0.5
            return global_pointer(hidden, weights['global_pointer.weight'], 1, head['head_size'], mask)[:, 0]
        mask = torch.from_numpy(golden['token_ids']) > 0
        return global_pointer(hidden, weights['global_pointer.weight'], head['heads'], head['head_size'], mask)
    raise SystemExit('error: unknown head type %r' % kind)


def scored_predictions(head, outputs, golden):
    """Per example (per sequence for span heads): (prediction, {candidate: score})."""
    kind = head['type']
    if kind in ('classifier', 'choice_logit'):
        rows = outputs.reshape(-1, head['num_choices']) if kind == 'choice_logit' else outputs
        return [(int(row.argmax()), dict(enumerate(row))) for row in rows]
    if 'context_mask' in golden:  # cmrc2018: the best cell outside row and column 0
        scores = outputs.copy()
        scores[:, 0, :] = scores[:, :, 0] = -np.inf
        flat = scores.reshape(len(scores), -1)
        return [(int(row.argmax()), dict(enumerate(row))) for row in flat]
    return [(frozenset(map(tuple, np.argwhere(cells > 0))), cells) for cells in outputs]


def prediction_agreement(head, outputs, golden, tolerance):
    """(predictions, how many are equal, how many of the others are ties): predictions that
    differ only where the TensorFlow scores of the two choices are within ``tolerance``
    (c3 pads questions with identical choices, whose logits are exactly equal)."""
    ours = scored_predictions(head, outputs, golden)
    theirs = scored_predictions(head, golden['head'], golden)
    equal = ties = 0
    for (mine, _), (reference, scores) in zip(ours, theirs):
        if mine == reference:
            equal += 1
        elif isinstance(mine, frozenset):
            ties += all(abs(scores[cell]) <= tolerance for cell in mine ^ reference)
        else:
            ties += abs(scores[mine] - scores[reference]) <= tolerance
    return len(ours), equal, ties


def compare(export_dir, tolerance):
    golden = dict(np.load(os.path.join(export_dir, 'golden.npz')))
    with open(os.path.join(export_dir, 'head.json'), encoding='utf-8') as f:
        head = json.load(f)
    weights = load_file(os.path.join(export_dir, 'head.safetensors'))
    model = load_backbone(os.path.join(export_dir, 'hf'))
    token_ids = torch.from_numpy(golden['token_ids']).long()
    segment_ids = torch.from_numpy(golden['segment_ids']).long()
    with torch.no_grad():
        hidden = model(input_ids=token_ids, token_type_ids=segment_ids,
                       attention_mask=attention_mask(token_ids, segment_ids)).last_hidden_state
        outputs = head_outputs(head, weights, hidden, golden).numpy()
    real = golden['token_ids'] > 0
    last_layer = float(np.abs(hidden.numpy() - golden['last_layer'])[real].max())
    scored = golden['head'] > -MASKED / 10  # the cells a span head does not mask
    head_difference = float(np.abs(outputs - golden['head'])[scored].max())
    total, equal, ties = prediction_agreement(head, outputs, golden, tolerance)
    return {'export': export_dir, 'task': head['task'], 'model': type(model).__name__,
            'predictions': total, 'last_layer_max_abs_difference': last_layer,
            'head_max_abs_difference': head_difference, 'equal_predictions': equal / float(total),
            'tied_predictions': ties,
            'passed': last_layer <= tolerance and head_difference <= tolerance and equal + ties == total}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('exports', metavar='EXPORT_DIR', nargs='+', help='written by python -m fl_tuning export')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='largest accepted difference (default 1e-4)')
    parser.add_argument('--json', action='store_true', help='one JSON object per export')
    args = parser.parse_args(argv)
    transformers.logging.set_verbosity_error()
    torch.set_grad_enabled(False)
    failed = False
    for export_dir in args.exports:
        for name in ('head.json', 'head.safetensors', os.path.join('hf', 'config.json')):
            if not os.path.isfile(os.path.join(export_dir, name)):
                print('error: %s has no %s: not an fl_tuning export' % (export_dir, name), file=sys.stderr)
                return 2
        if not os.path.isfile(os.path.join(export_dir, 'golden.npz')):
            print('error: %s has no golden.npz: export again with --data-dir DIR or --texts FILE'
                  % export_dir, file=sys.stderr)
            return 2
        result = compare(export_dir, args.tolerance)
        failed |= not result['passed']
        if args.json:
            print(json.dumps(result, sort_keys=True))
        else:
            print('%s (%s, %s, %d predictions): last layer max |diff| %.2e, head max |diff| %.2e, '
                  'equal predictions %.0f%% (%d others tied) -> %s' % (
                      export_dir, result['task'], result['model'], result['predictions'],
                      result['last_layer_max_abs_difference'], result['head_max_abs_difference'],
                      100 * result['equal_predictions'], result['tied_predictions'],
                      'ok' if result['passed'] else 'FAILED'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
