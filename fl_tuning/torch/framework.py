"""The PyTorch side of a run, behind the interface every framework implements
(fl_tuning.framework): the task model on its transformers backbone with the tuning
methods, trained one epoch at a time on given batches, predicting batches, saving and
loading its tuned weights and resumable state, its parameter counts."""
import os
import random
from collections import OrderedDict

import numpy as np
import torch
import transformers

from fl_tuning.errors import InputError
from fl_tuning.methods.base import Dimensions
from fl_tuning.model_files import read_config
from fl_tuning.optimization import learning_rate_schedule
from fl_tuning.torch.backbones import hf_config, hf_model
from fl_tuning.torch.encoder import TunedEncoder
from fl_tuning.torch.heads import TaskModel
from fl_tuning.torch.hf_folders import load_backbone_weights, model_files
from fl_tuning.torch.methods import torch_methods
from fl_tuning.torch.optimizer import KerasAdamW
from fl_tuning.torch.weights import (  # noqa: F401 (read_manifest, read_state, library_versions: the interface)
    library_versions, load_state, load_tuned_weights, read_manifest, read_state, save_state, save_tuned_weights,
)

NAME = 'torch'
ModelFiles = model_files  # Google-format or Hugging Face folders (the interface's name)
PRECISIONS = ('fp32', 'tf32', 'bf16')


def chosen_device(device=None):
    if device:
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise InputError('--device %s: PyTorch sees no GPU here (torch %s)' % (device, torch.__version__))
        return torch.device(device)
    return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


def describe_device(device=None):
    """(device, stack) that run, for the first log line and the record."""
    chosen = chosen_device(device)
    name = 'GPU %s' % torch.cuda.get_device_name(chosen) if chosen.type == 'cuda' else 'CPU'
    return name, 'torch %s, transformers %s' % (torch.__version__, transformers.__version__)


def set_precision(precision):
    """fp32 keeps float32 matrix products exact (TF32 off: the faithful port's numbers);
    tf32 lets Ampere and newer GPUs use TF32; bf16 autocasts the forward pass."""
    if precision not in PRECISIONS:
        raise InputError('--precision %s: choose one of %s' % (precision, ', '.join(PRECISIONS)))
    allow = precision == 'tf32'
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow


def deterministic_ops():
    """Repeatable GPU kernels (slower): PyTorch's deterministic algorithms, with the
    cuBLAS workspace they need."""
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    torch.use_deterministic_algorithms(True)


def as_tensor(array, device):
    array = np.asarray(array)
    dtype = torch.long if array.dtype.kind in 'iub' else torch.float32
    return torch.as_tensor(array, dtype=dtype, device=device)


def count(parameters):
    return int(sum(p.numel() for p in parameters))


class Trainer(object):
    """Builds the backbone, loads the checkpoint, adds the methods' parts with the Keras
    side's initial values, then seeds the batches' order (the original's order)."""

    def __init__(self, backbone, model_files, method_set, keep_tokens, task, seed, steps_per_epoch,
                 fused_feed_forward=False, dropout=True, device=None, precision='fp32'):
        config = read_config(model_files.config)
        vocab_size = len(keep_tokens) if keep_tokens is not None else config['vocab_size']
        set_precision(precision)
        self.seed, self.precision, self.device = int(seed), precision, chosen_device(device)
        torch.manual_seed(self.seed)
        model = hf_model(backbone, hf_config(backbone, config, vocab_size))
        load_backbone_weights(model, backbone, model_files, keep_tokens)
        encoder = TunedEncoder(backbone, model, torch_methods(method_set), dropout)
        self.model = TaskModel(task, encoder)
        for place, slot in enumerate(self.model.creation_order()):
            slot.assign(self.seed, place)
        encoder.freeze_backbone()
        random.seed(self.seed)
        np.random.seed(self.seed)
        self.model.to(self.device)
        h = task.hyperparameters
        schedule = learning_rate_schedule(h['num_warmup_steps'], steps_per_epoch * h['epochs'], h['grad_accum_steps'])
        self.optimizer = KerasAdamW([(n, p) for n, p in self.model.named_parameters() if p.requires_grad],
                                    h['learning_rate'], schedule, h['grad_accum_steps'])
        self.parameters = self.parameter_report(encoder, Dimensions.of_config(config, backbone, vocab_size))

    def parameter_report(self, encoder, dimensions):
        by_method = OrderedDict((m.name, m.parameter_count(dimensions)) for m in encoder.methods)
        trainable = count(encoder.trainable_parameters())
        fixed_tables = encoder.relative_positions.numel() if encoder.backbone_name == 'nezha' else 0
        total = count(encoder.backbone_parameters()) + count(encoder.parts.parameters()) + fixed_tables
        return {'methods': [repr(m) for m in encoder.methods], 'by_method': by_method, 'trainable': trainable,
                'expected_trainable': sum(by_method.values()), 'total': total,
                'trainable_percent': 100.0 * trainable / total, 'head': count(self.model.head.parameters())}

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == 'bf16')

    def train_epoch(self, batches, first_step, on_step=None):
        """Train on ``batches`` ((inputs, labels) pairs); the loss of every step."""
        self.model.train()
        losses = []
        for step, (inputs, labels) in enumerate(batches, first_step):
            self.model.encoder.seed_dropout(self.seed, step)
            with self.autocast():
                scores = self.model([as_tensor(x, self.device) for x in inputs])
            loss = self.model.head.loss(scores, torch.as_tensor(np.asarray(labels), device=self.device).float())
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(losses)
        return losses

    @torch.no_grad()
    def predict_batch(self, inputs):
        self.model.eval()
        with self.autocast():
            scores = self.model([as_tensor(x, self.device) for x in inputs])
        return self.model.head.outputs(scores).float().cpu().numpy()

    def learning_rate(self):
        return self.optimizer.current_learning_rate()

    def save_weights(self, path, manifest):
        save_tuned_weights(self.model, path, manifest)

    def load_weights(self, path, expected):
        load_tuned_weights(self.model, path, expected)

    def save_state(self, path, state):
        save_state(self.model, self.optimizer, path, state)

    def load_state(self, path):
        load_state(self.model, self.optimizer, path)


def reset():
    """Nothing to clear between runs but the GPU's cached blocks."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
