"""One training step through peft, as transformers' Trainer takes it (forward with the
labels, backward, AdamW, zero_grad; bf16 as Trainer's bf16=True: autocast over float32
weights), for FL-tuning against LoRA and full fine-tuning: on a BERT-base-sized
classifier and a ~1B-parameter LLaMA-style causal LM, random weights (no downloads).
Methods: FL-tuning with k chosen so that it trains as many parameters as LoRA r = 8 on
the attention's query and value, FL-tuning with the paper's k = 160, LoRA r = 8 on
query/value, full fine-tuning. Each configuration runs in its own process, so that the
peak memory is its own (on a GPU torch.cuda.max_memory_allocated, on a CPU the process's
peak resident size). Prints one table (median step time over --steps after 2 warm-up
steps).

    python benchmarks/peft_step.py                   # on a GPU: BERT-base batch 32 x 128, LLaMA 1.1B batch 4 x 512
    python benchmarks/peft_step.py --reduced         # the CPU sizes: 4 layers, BERT hidden 256, LLaMA hidden 512

Needs torch, transformers and peft only (.venv-modern, or a GPU machine with them).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fl_tuning.torch.peft_method import FLTuningConfig  # noqa: E402
from fl_tuning.torch.peft_method.layouts import blocks, feed_forward_linear  # noqa: E402

# (model, full size, reduced size): transformers configs; batch and length.
MODELS = {
    'bert-base': (dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                       vocab_size=21128, batch=32, length=128),
                  dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                       vocab_size=21128, batch=8, length=128)),
    'llama-1.1b': (dict(hidden_size=2048, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                        intermediate_size=5632, vocab_size=32000, batch=4, length=512),
                   dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                        intermediate_size=1408, vocab_size=32000, batch=4, length=128)),
}
METHODS = ['fl (= LoRA params)', 'fl k=160', 'lora r=8', 'full']
PRECISIONS = ['fp32', 'bf16']


def build(name, sizes, method):
    settings = {k: v for k, v in sizes.items() if k not in ('batch', 'length')}
    torch.manual_seed(0)
    if name.startswith('bert'):
        model = transformers.BertForSequenceClassification(transformers.BertConfig(num_labels=3, **settings))
        task, lora_targets = 'SEQ_CLS', ['query', 'value']
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings))
        task, lora_targets = 'CAUSAL_LM', ['q_proj', 'v_proj']
    if method == 'full':
        return model
    lora = LoraConfig(task_type=task, r=8, target_modules=lora_targets)
    if method.startswith('lora'):
        return get_peft_model(model, lora)
    units = 160 if method == 'fl k=160' else matched_units(model, lora)
    print('fl units: %d' % units, file=sys.stderr)
    return get_peft_model(model, FLTuningConfig(task_type=task, extra_units=units))


def matched_units(model, lora):
    """k giving FL-tuning as many added parameters as ``lora``: FL adds, per unit, a row
    to each input-side linear (and its bias) and a column to the output-side one, plus
    the output biases once; LoRA r (in + out) per targeted linear."""
    lora_parameters = sum(lora.r * (m.in_features + m.out_features) for name, m in model.named_modules()
                          if name.rsplit('.', 1)[-1] in lora.target_modules)
    per_unit = fixed = 0
    for linears in blocks([name for name, _ in model.named_modules()]).values():
        for key in linears.values():
            linear = model.get_submodule(key)
            if feed_forward_linear(key).side == 'in':
                per_unit += linear.in_features + (linear.bias is not None)
            else:
                per_unit += linear.out_features
                fixed += linear.out_features if linear.bias is not None else 0
    return max(1, round((lora_parameters - fixed) / per_unit))


def one_configuration(name, method, precision, device, reduced, steps):
    sizes = MODELS[name][1 if reduced else 0]
    model = build(name, sizes, method).to(device)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, sizes['vocab_size'], (sizes['batch'], sizes['length']), generator=generator)
    labels = input_ids if name.startswith('llama') else torch.randint(0, 3, (sizes['batch'],), generator=generator)
    inputs = {'input_ids': input_ids.to(device), 'labels': labels.to(device)}
    timings = []
    for step in range(2 + steps):
        if device == 'cuda':
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == 'cuda':
            torch.cuda.synchronize()
        if step >= 2:
            timings.append(time.perf_counter() - started)
    peak = (torch.cuda.max_memory_allocated() if device == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {'model': name, 'method': method, 'precision': precision,
            'trainable': sum(p.numel() for p in trainable), 'ms': 1000 * statistics.median(timings),
            'peak_mib': peak / 2 ** 20, 'loss': loss.item()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--reduced', action='store_true', help='the CPU sizes')
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--models', default=','.join(MODELS))
    parser.add_argument('--one', help=argparse.SUPPRESS)  # a configuration, run in its own process
    args = parser.parse_args()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
    if args.one:
        name, method, precision = json.loads(args.one)
        print(json.dumps(one_configuration(name, method, precision, device, args.reduced, args.steps)))
        return
    where = torch.cuda.get_device_name() if device == 'cuda' else 'CPU, %d threads' % torch.get_num_threads()
    print('%s; torch %s, transformers %s; %s sizes' % (where, torch.__version__, transformers.__version__,
                                                     'reduced' if args.reduced else 'full'))
    print('| model | method | precision | trainable | ms/step | peak MiB |\n|---|---|---|---:|---:|---:|')
    for name in args.models.split(','):
        for precision in PRECISIONS:
            for method in METHODS:
                command = [sys.executable, __file__, '--one', json.dumps([name, method, precision]),
                           '--steps', str(args.steps)] + (['--reduced'] if args.reduced else [])
                row = json.loads(subprocess.check_output(command).decode().strip().splitlines()[-1])
                print('| %s | %s | %s | %s | %.1f | %.0f |' % (row['model'], row['method'], row['precision'],
                                                             format(row['trainable'], ','), row['ms'],
                                                             row['peak_mib']), flush=True)


if __name__ == '__main__':
    main()
