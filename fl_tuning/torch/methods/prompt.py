"""Shallow prompt tuning on PyTorch: learned vectors before the embedding stage's
output, seen by and seeing every token, dropped again after the last block (the
Keras side's rules: fl_tuning.keras.methods.prompt)."""
import torch
import torch.nn.functional as F
from torch import nn

import fl_tuning.methods.prompt as methods_prompt
from fl_tuning.torch.keras_layout import Slot
from fl_tuning.torch.methods.base import TorchMethod


class InputPrompt(nn.Module):
    def __init__(self, prompt_size, hidden_size):
        super(InputPrompt, self).__init__()
        self.embeddings = nn.Parameter(torch.zeros(prompt_size, hidden_size))


class PromptTuning(methods_prompt.PromptTuning, TorchMethod):
    def build(self, encoder):
        return InputPrompt(self.size, encoder.hidden_size)

    def creation_slots(self, encoder, where, index=None):
        return [Slot(encoder.part(self).embeddings, 'truncated_normal')] if where == 'embeddings' else []

    def embedding_output(self, encoder, x, mask):
        prompts = encoder.part(self).embeddings[None].expand(x.shape[0], -1, -1)
        valid = torch.ones(mask.shape[0], self.size, dtype=mask.dtype, device=mask.device)
        return torch.cat([prompts, x], 1), torch.cat([valid, mask], 1)

    def attention_bias(self, encoder, bias):
        return F.pad(bias, (self.size, 0, self.size, 0))

    def encoder_output(self, encoder, x, mask):
        return x[:, self.size:], mask[:, self.size:]

    def trainable(self, encoder):
        return [encoder.part(self).embeddings]

    def keras_layers(self, encoder):
        return [('Input-Prompt', [(encoder.part(self).embeddings, False)])]
