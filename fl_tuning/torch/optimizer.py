"""The original's optimizer on PyTorch (ORIGINAL_SPEC section 8, as the Keras side
composes it from bert4keras' wrappers around Keras 2.3.1 Adam), step for step:

- every read of the step counter sees its incremented value: at micro-step n
  (0-based) the schedule reads s = n + 1 and Adam's bias correction t = s + 1;
- Adam with epsilon outside the square root and bias correction in the step size;
- decoupled weight decay ``lr * 0.01 * p`` (base rate) unless the name matches
  'Norm' or 'bias'; the schedule's multiplier scales Adam's step and the decay alike;
- with accumulation g > 1, Adam sees the accumulated *past* gradients / g and
  updates (m, v, p) only when s is a multiple of g; the current gradient then starts
  the next window.
"""
import math

import torch

from fl_tuning.optimization import BETA_1, BETA_2, EPSILON, WEIGHT_DECAY_RATE, decays, multiplier


class KerasAdamW(object):
    def __init__(self, named_parameters, learning_rate, schedule, grad_accum_steps=1):
        named = list(named_parameters)
        self.parameters = [p for _, p in named]
        self.decayed = [decays(name) for name, _ in named]
        self.learning_rate, self.schedule, self.grad_accum_steps = learning_rate, schedule, grad_accum_steps
        self.iterations = 0
        self.m = [torch.zeros_like(p) for p in self.parameters]
        self.v = [torch.zeros_like(p) for p in self.parameters]
        self.accumulated = [torch.zeros_like(p) for p in self.parameters] if grad_accum_steps > 1 else []

    @torch.no_grad()
    def step(self):
        """One micro-step on the parameters' ``.grad``, which it then clears."""
        s = self.iterations + 1
        gradients = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.parameters]
        update = True
        if self.grad_accum_steps > 1:
            update = s % self.grad_accum_steps == 0
            fed = [a / self.grad_accum_steps for a in self.accumulated]
            if update:
                self.accumulated = [g.clone() for g in gradients]
            else:
                torch._foreach_add_(self.accumulated, gradients)
            gradients = fed
        if update:
            self.apply(gradients, s)
        for p in self.parameters:
            p.grad = None
        self.iterations = s

    def apply(self, gradients, s):
        t = s + 1
        step_size = self.learning_rate * math.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)
        torch._foreach_mul_(self.m, BETA_1)
        torch._foreach_add_(self.m, gradients, alpha=1.0 - BETA_1)
        torch._foreach_mul_(self.v, BETA_2)
        torch._foreach_addcmul_(self.v, gradients, gradients, value=1.0 - BETA_2)
        denominators = torch._foreach_sqrt(self.v)
        torch._foreach_add_(denominators, EPSILON)
        steps = torch._foreach_div(self.m, denominators)
        torch._foreach_mul_(steps, step_size)
        for p, step, decayed in zip(self.parameters, steps, self.decayed):
            if decayed:
                step.add_(p, alpha=self.learning_rate * WEIGHT_DECAY_RATE)
        torch._foreach_add_(self.parameters, steps, alpha=-multiplier(self.schedule, s))

    def current_learning_rate(self):
        return self.learning_rate * multiplier(self.schedule, self.iterations)

    def state(self):
        """{name: tensor} of the optimizer's variables, for the state file."""
        tensors = {'iterations': torch.tensor(self.iterations, dtype=torch.int64)}
        for kind in ('m', 'v', 'accumulated'):
            for i, tensor in enumerate(getattr(self, kind)):
                tensors['%s.%d' % (kind, i)] = tensor
        return tensors

    def load_state(self, tensors):
        self.iterations = int(tensors['iterations'])
        for kind in ('m', 'v', 'accumulated'):
            for i, tensor in enumerate(getattr(self, kind)):
                tensor.copy_(tensors['%s.%d' % (kind, i)])
