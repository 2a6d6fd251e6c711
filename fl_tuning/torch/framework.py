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

from fl_tuning.checkpoint_layout import google_weights
from fl_tuning.errors import InputError
from fl_tuning.methods import parameter_report as methods_parameter_report
from fl_tuning.methods.base import Dimensions
from fl_tuning.model_files import read_config
from fl_tuning.optimization import learning_rate_schedule
from fl_tuning.processes import run_processes
from fl_tuning.torch.backbones import hf_config, hf_model
from fl_tuning.torch.encoder import TunedEncoder
from fl_tuning.torch.heads import TaskModel
from fl_tuning.torch.hf_folders import load_backbone_weights, mlm_head, model_files
from fl_tuning.torch.methods import torch_methods
from fl_tuning.torch.optimizer import KerasAdamW
from fl_tuning.torch.process_group import ProcessGroup, close, process_device
from fl_tuning.torch.weights import (  # noqa: F401 (library_versions: the interface)
    library_versions, load_state, load_tuned_weights, save_state, save_tuned_weights,
)

NAME = 'torch'
DISTRIBUTED = True  # torchrun (fl_tuning.torch.process_group)
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


def encoder_parameters(encoder, dimensions):
    """The parameter report of a tuned encoder, its head left out."""
    by_method = OrderedDict((m.name, m.parameter_count(dimensions)) for m in encoder.methods)
    fixed_tables = encoder.relative_positions.numel() if encoder.backbone_name == 'nezha' else 0
    total = count(encoder.backbone_parameters()) + count(encoder.parts.parameters()) + fixed_tables
    return methods_parameter_report(encoder.methods, by_method, count(encoder.trainable_parameters()), total)


def parameter_report(backbone, config_path, method_set):
    """The parameter report of ``method_set`` on a backbone of ``config_path``, no checkpoint read."""
    config = read_config(config_path)
    encoder = TunedEncoder(backbone, hf_model(backbone, hf_config(backbone, config, config['vocab_size'])),
                           torch_methods(method_set))
    encoder.freeze_backbone()
    return encoder_parameters(encoder, Dimensions.of_config(config, backbone, config['vocab_size']))


class Trainer(object):
    """Builds the backbone, loads the checkpoint, adds the methods' parts with the Keras
    side's initial values, then seeds the batches' order (the original's order). Under
    torchrun every process builds the same model and takes its share of each batch."""

    def __init__(self, backbone, model_files, method_set, keep_tokens, task, seed, steps_per_epoch,
                 fused_feed_forward=False, dropout=True, device=None, precision='fp32'):
        config = read_config(model_files.config)
        vocab_size = len(keep_tokens) if keep_tokens is not None else config['vocab_size']
        set_precision(precision)
        self.processes = run_processes()
        self.seed, self.precision = int(seed), precision
        self.device = process_device(self.processes, chosen_device(device))
        self.backbone, self.model_files, self.keep_tokens = backbone, model_files, keep_tokens
        self.config = dict(config, vocab_size=vocab_size)
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
        self.group = ProcessGroup(self.processes, self.device, self.optimizer.parameters)
        self.parameters = dict(encoder_parameters(encoder, Dimensions.of_config(config, backbone, vocab_size)),
                               head=count(self.model.head.parameters()))

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == 'bf16')

    def share(self, inputs):
        """(start, stop) of this process's rows of a batch (all of them in one process)."""
        return self.processes.rows(len(inputs[0]), self.model.head.rows_per_example)

    def train_step(self, inputs, labels, step):
        """One optimizer step on a batch (``step``: its number in the run, which seeds the
        dropout); the batch's loss. A process's loss is weighted by its share of the batch
        (every head's loss is a mean over examples), so the gradients summed over the
        processes are the one-process gradients."""
        if not self.model.training:  # after predicting
            self.model.train()
        (start, stop), rows = self.share(inputs), len(inputs[0])
        self.model.encoder.seed_dropout(self.seed, step, start, rows, self.processes.rank)
        loss = 0.0
        if stop > start:  # the last batch may leave a process nothing
            with self.autocast():
                scores = self.model([as_tensor(x[start:stop], self.device) for x in inputs])
            labels = torch.as_tensor(np.asarray(labels)[start:stop], device=self.device).float()
            loss = self.model.head.loss(scores, labels) * ((stop - start) / float(rows))
            loss.backward()
        loss = self.group.sum_gradients(loss)
        self.optimizer.step()
        return loss

    @torch.no_grad()
    def predict_batch(self, inputs):
        """The batch's outputs; each process predicts its share, and all get them all."""
        self.model.eval()
        start, stop = self.share(inputs)
        outputs = None
        if stop > start:
            with self.autocast():
                scores = self.model([as_tensor(x[start:stop], self.device) for x in inputs])
            outputs = self.model.head.outputs(scores).float().cpu().numpy()
        return self.group.gathered(outputs)

    @torch.no_grad()
    def named_outputs(self, inputs):
        """{'last_layer': the encoder's output, 'head': what predict_batch gives} (golden files)."""
        self.model.eval()
        tensors = [as_tensor(x, self.device) for x in inputs]
        with self.autocast():
            x, mask = self.model.encoder(tensors[0], tensors[1])
            scores = self.model.head(x, mask, tensors[2:])
        return {'last_layer': x.float().cpu().numpy(), 'head': self.model.head.outputs(scores).float().cpu().numpy()}

    def gate_probe(self):
        """APT's probe: inputs -> (layer weights [layers], gates [layers, sequences, prefixes])."""
        parts = list(self.model.encoder.parts['apt'])
        layer_weights = np.array([float(part.layer_weight) for part in parts])

        def probe(inputs):
            gates = []
            hooks = [part.gate.register_forward_hook(lambda module, args, output: gates.append(torch.sigmoid(
                output.float()).cpu().numpy())) for part in parts]
            try:
                self.predict_batch(inputs)
            finally:
                for hook in hooks:
                    hook.remove()
            return layer_weights, np.stack(gates)
        return probe

    def exported_backbone(self):
        """(bert_config.json, {Google checkpoint variable: array}): the tuned model folded
        into a plain backbone, with the MLM head of a Google-format checkpoint as it was."""
        encoder, config = self.model.encoder, dict(self.config)
        weights = OrderedDict(encoder.model.named_parameters())
        for method in encoder.methods:
            method.fold(encoder, config, weights)
        variables = google_weights(self.backbone, config, dict(
            (name, value.detach().float().cpu().numpy()) for name, value in weights.items()))
        variables.update(mlm_head(self.model_files, self.keep_tokens))
        return config, variables

    def exported_head(self, task):
        return self.model.head.exported(task)

    def learning_rate(self):
        return self.optimizer.current_learning_rate()

    def save_weights(self, path, manifest):
        save_tuned_weights(self.model, path, manifest)

    def load_weights(self, path, expected):
        self.group.barrier()  # the writer has written them
        load_tuned_weights(self.model, path, expected)

    def save_state(self, path, state):
        save_state(self.model, self.optimizer, path, state)

    def load_state(self, path):
        load_state(self.model, self.optimizer, path)


def reset():
    """Nothing to clear between runs but the process group and the GPU's cached blocks."""
    close()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
