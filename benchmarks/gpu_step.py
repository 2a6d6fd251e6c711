"""Training-step time and peak memory of the PyTorch side's methods on a BERT-base-sized
random model (no downloads), with peft's LoRA (r = 8 on query and value) as the peer a
user would pick instead, in fp32 (TF32 off) and bf16 autocast, as one table.

Needs torch, transformers and peft only (no TensorFlow, nothing to install):

    python3 benchmarks/gpu_step.py                  # on a GPU: batch 32 x 128, 12 layers
    python3 benchmarks/gpu_step.py --layers 2 --hidden 128 --batch 4 --length 32 --steps 2   # a CPU check
"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.backbones import BERT_BASE_CONFIG  # noqa: E402
from fl_tuning.methods import resolve_method_set  # noqa: E402
from fl_tuning.optimization import learning_rate_schedule  # noqa: E402
from fl_tuning.tasks import get_task  # noqa: E402
from fl_tuning.torch.backbones import hf_config, hf_model  # noqa: E402
from fl_tuning.torch.encoder import TunedEncoder  # noqa: E402
from fl_tuning.torch.framework import set_precision  # noqa: E402
from fl_tuning.torch.heads import TaskModel  # noqa: E402
from fl_tuning.torch.methods import torch_methods  # noqa: E402
from fl_tuning.torch.optimizer import KerasAdamW  # noqa: E402

METHODS = ['fl', 'ptv2', 'ln', 'finetune', 'lora']


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--layers', type=int, default=12)
    parser.add_argument('--hidden', type=int, default=768, help='hidden size (heads of 64)')
    parser.add_argument('--size', type=int, default=160, help='FL units, prefixes')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--length', type=int, default=128)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--methods', default=','.join(METHODS))
    parser.add_argument('--precisions', default='fp32,bf16')
    parser.add_argument('--json', help='also write the figures here')
    return parser.parse_args()


def config(args):
    return dict(BERT_BASE_CONFIG, num_hidden_layers=args.layers, hidden_size=args.hidden,
                num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden)


class LoRAClassifier(nn.Module):
    """peft's LoRA on transformers' own BertModel forward, a [CLS] classifier on top."""

    def __init__(self, model):
        super(LoRAClassifier, self).__init__()
        from peft import LoraConfig, get_peft_model
        self.model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1,
                                                      target_modules=['query', 'value']))
        self.head = nn.Linear(model.config.hidden_size, 2)

    def forward(self, inputs):
        token_ids, segment_ids = inputs
        hidden = self.model(input_ids=token_ids, token_type_ids=segment_ids,
                            attention_mask=(token_ids > 0).long()).last_hidden_state
        return self.head(hidden[:, 0])


def build(method, args, device):
    """(model, loss, optimizer step) for one method."""
    torch.manual_seed(0)
    backbone = hf_model('bert', hf_config('bert', config(args), BERT_BASE_CONFIG['vocab_size']))
    if method == 'lora':
        model = LoRAClassifier(backbone).to(device)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4,
                                      foreach=True)

        def step():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return model, lambda scores, labels: nn.functional.cross_entropy(scores.float(), labels), step
    sizes = {'ffn_prompt_size': args.size if method == 'fl' else None,
             'prompt_size': args.size if method == 'ptv2' else None}
    encoder = TunedEncoder('bert', backbone, torch_methods(resolve_method_set(method, **sizes)))
    model = TaskModel(get_task('afqmc'), encoder)
    for place, slot in enumerate(model.creation_order()):
        slot.assign(0, place)
    encoder.freeze_backbone()
    model.to(device)
    optimizer = KerasAdamW([(n, p) for n, p in model.named_parameters() if p.requires_grad], 2e-4,
                           learning_rate_schedule(0, 1000))
    return model, model.head.loss, optimizer.step


def measure(method, precision, args, device, batch):
    set_precision('tf32' if precision == 'tf32' else 'fp32')
    model, loss_of, step = build(method, args, device)
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    inputs, labels = batch

    def train_step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            scores = model(inputs)
        loss_of(scores, labels).backward()
        step()

    for _ in range(3):
        train_step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.time()
    for _ in range(args.steps):
        train_step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    seconds = (time.time() - started) / args.steps
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == 'cuda' else float('nan')
    return {'method': method, 'precision': precision, 'ms_per_step': 1000 * seconds, 'peak_gib': peak,
            'trainable': trainable}


def main():
    args = arguments()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    generator = torch.Generator().manual_seed(0)
    token_ids = torch.randint(106, BERT_BASE_CONFIG['vocab_size'], (args.batch, args.length), generator=generator)
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    batch = ([token_ids.to(device), torch.zeros_like(token_ids).to(device)],
             torch.randint(0, 2, (args.batch,), generator=generator).to(device))
    import peft
    import transformers
    print('%s; torch %s, transformers %s, peft %s; %d layers x %d hidden, batch %d x %d, %d timed steps'
          % (name, torch.__version__, transformers.__version__, peft.__version__, args.layers, args.hidden,
             args.batch, args.length, args.steps))
    rows = []
    for precision in args.precisions.split(','):
        for method in args.methods.split(','):
            rows.append(measure(method, precision, args, device, batch))
            if device.type == 'cuda':
                torch.cuda.empty_cache()  # the last model is gone: its blocks are free
    lora = dict((r['precision'], r['ms_per_step']) for r in rows if r['method'] == 'lora')
    finetune = dict((r['precision'], r['ms_per_step']) for r in rows if r['method'] == 'finetune')
    print('| method | precision | trainable | ms/step | peak GiB | / LoRA | / fine-tuning |')
    print('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        ratio = lambda reference: ('%.2f' % (r['ms_per_step'] / reference[r['precision']])  # noqa: E731
                                   if r['precision'] in reference else '')
        print('| %s | %s | %s | %.1f | %.2f | %s | %s |' % (r['method'], r['precision'], '{:,}'.format(r['trainable']),
                                                            r['ms_per_step'], r['peak_gib'], ratio(lora),
                                                            ratio(finetune)))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'device': name, 'rows': rows, 'arguments': vars(args)}, f, indent=1)


if __name__ == '__main__':
    main()
