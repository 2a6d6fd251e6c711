#!/usr/bin/env python3
"""FL-tuning with peft and transformers' Trainer, from start to a plain model.

    python examples/peft_trainer.py                          # a tiny random BERT, the bundled tnews demo data
    python examples/peft_trainer.py --model-dir MODEL_DIR    # your BERT-like folder (config.json, weights, vocab)

1. get_peft_model(model, FLTuningConfig(task_type='SEQ_CLS', extra_units=K)): K hidden
   units beside every feed-forward layer; they and the classifier train, nothing else;
2. Trainer trains, evaluating on dev every epoch;
3. save_pretrained writes the adapter (adapter_config.json, adapter_model.safetensors);
4. AutoPeftModelForSequenceClassification loads it back;
5. merge_and_unload folds the units into F + K wide feed-forward layers;
6. plain AutoModelForSequenceClassification reloads the merged folder: same logits.

Without --model-dir the model is tiny and RANDOM (2 layers, hidden 64, its vocabulary
the demo data's characters): the accuracy shows the machinery, not FL-tuning's quality.
Needs torch, transformers and peft (.venv-modern: bash scripts/setup_modern.sh).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
from peft import AutoPeftModelForSequenceClassification, get_peft_model

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fl_tuning.torch.peft_method  # noqa: E402,F401 (makes peft know FL-tuning: once per process)
from fl_tuning.torch.peft_method import FLTuningConfig  # noqa: E402

DEMO_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fl_tuning', 'demo_data',
                         'tnews')


def read_tnews(path):
    with open(path, encoding='utf-8') as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row['sentence'] for row in rows], [row['label'] for row in rows]


def tiny_random_model(folder, train_texts, labels):
    """A random BERT with a character vocabulary of the training texts, saved in
    ``folder``. Its weights are drawn 10x wider than transformers' default (std 0.2):
    at 0.02 a random model's [CLS] vector hardly depends on the text (its spread across
    the demo's sentences is 0.005), and nothing frozen above it can learn."""
    os.makedirs(folder, exist_ok=True)
    characters = sorted({c for text in train_texts for c in text})
    with open(os.path.join(folder, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + characters) + '\n')
    config = transformers.BertConfig(vocab_size=5 + len(characters), hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=256, max_position_embeddings=64,
                                     num_labels=len(labels), initializer_range=0.2)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    transformers.BertTokenizer(os.path.join(folder, 'vocab.txt')).save_pretrained(folder)
    return folder


class Encoded(torch.utils.data.Dataset):
    def __init__(self, tokenizer, texts, labels, label_ids, max_length):
        self.encodings = tokenizer(texts, truncation=True, max_length=max_length, padding='max_length')
        self.labels = [label_ids[label] for label in labels]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        item = {key: torch.tensor(values[index]) for key, values in self.encodings.items()}
        item['labels'] = torch.tensor(self.labels[index])
        return item


def accuracy(prediction):
    return {'accuracy': float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model-dir', help='a BERT-like transformers folder (default: a tiny random BERT)')
    parser.add_argument('--data-dir', default=DEMO_DATA, help='tnews-format train.json and dev.json')
    parser.add_argument('--output-dir', default='peft_example_output')
    parser.add_argument('--extra-units', type=int, default=16, help='FL units per feed-forward layer (paper: 160)')
    parser.add_argument('--epochs', type=float, default=8)
    parser.add_argument('--learning-rate', type=float, default=1e-2)
    args = parser.parse_args()

    train_texts, train_labels = read_tnews(os.path.join(args.data_dir, 'train.json'))
    dev_texts, dev_labels = read_tnews(os.path.join(args.data_dir, 'dev.json'))
    label_ids = {label: index for index, label in enumerate(sorted(set(train_labels)))}
    model_dir = args.model_dir or tiny_random_model(os.path.join(args.output_dir, 'tiny_random_bert'),
                                                    train_texts, label_ids)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    train_set = Encoded(tokenizer, train_texts, train_labels, label_ids, 32)
    dev_set = Encoded(tokenizer, dev_texts, dev_labels, label_ids, 32)

    # 1. the units and the classifier train; the backbone is frozen
    base = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=len(label_ids))
    width = base.config.intermediate_size
    model = get_peft_model(base, FLTuningConfig(task_type='SEQ_CLS', extra_units=args.extra_units))
    model.print_trainable_parameters()

    # 2. Trainer, as for any peft model
    training = transformers.TrainingArguments(
        output_dir=os.path.join(args.output_dir, 'trainer'), num_train_epochs=args.epochs,
        per_device_train_batch_size=16, learning_rate=args.learning_rate, eval_strategy='epoch',
        save_strategy='no', logging_strategy='epoch', report_to=[], seed=1, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=training, train_dataset=train_set, eval_dataset=dev_set,
                                   compute_metrics=accuracy)
    trainer.train()
    dev_accuracy = trainer.evaluate()['eval_accuracy']

    # 3-4. save the adapter, load it back
    adapter_dir = os.path.join(args.output_dir, 'adapter')
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)  # AutoPeftModel looks for one there (else on the hub)
    loaded = AutoPeftModelForSequenceClassification.from_pretrained(adapter_dir).eval()

    # 5-6. merge into a plain model and reload it without peft
    merged_dir = os.path.join(args.output_dir, 'merged')
    loaded.merge_and_unload().save_pretrained(merged_dir)
    tokenizer.save_pretrained(merged_dir)
    plain = transformers.AutoModelForSequenceClassification.from_pretrained(merged_dir).eval()

    inputs = tokenizer(dev_texts[:16], padding=True, return_tensors='pt')
    model.eval()
    with torch.no_grad():
        tuned, reloaded = model(**inputs).logits, plain(**inputs).logits
    print('dev accuracy %.3f (%d topics; chance %.3f)' % (dev_accuracy, len(label_ids), 1.0 / len(label_ids)))
    print('feed-forward width %d -> %d; merged and reloaded with plain transformers: largest logit difference %.2g'
          % (width, plain.config.intermediate_size,
             float((tuned - reloaded).abs().max())))
    print('adapter: %s\nmerged model: %s' % (adapter_dir, merged_dir))


if __name__ == '__main__':
    main()
