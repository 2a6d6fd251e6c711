"""One run over several processes with torch.distributed (started by torchrun): gloo
between CPUs, NCCL between GPUs. Every process gets the same global batch and takes its
contiguous share (fl_tuning.processes); its loss, weighted by that share, gives
gradients whose sum over processes is the one-process gradient, summed in one
all-reduce of a flat buffer (only the tuned parameters, a few percent of the model, have
gradients). DDP is not used: it averages equal shares, and the last batch of an epoch
leaves shares unequal or empty."""
import numpy as np
import torch
import torch.distributed as dist


def process_device(processes, device):
    """A GPU process uses the GPU of its local rank."""
    if processes.world_size > 1 and device.type == 'cuda':
        device = torch.device('cuda', processes.local_rank)
        torch.cuda.set_device(device)
    return device


class ProcessGroup(object):

    def __init__(self, processes, device, parameters):
        self.processes, self.parameters = processes, list(parameters)
        self.spread = processes.world_size > 1
        if self.spread and not dist.is_initialized():
            dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo', rank=processes.rank,
                                    world_size=processes.world_size)
        # The gradients and the loss, made once: one all-reduce a step.
        self.buffer = torch.zeros(sum(p.numel() for p in self.parameters) + 1, device=device) if self.spread else None

    def sum_gradients(self, loss):
        """The gradients of the parameters summed over processes in place; the summed loss."""
        if not self.spread:
            return float(loss)
        offset = 0
        for p in self.parameters:
            part = self.buffer[offset:offset + p.numel()]
            if p.grad is None:
                part.zero_()
            else:
                part.copy_(p.grad.reshape(-1))
            offset += p.numel()
        self.buffer[offset] = float(loss)
        dist.all_reduce(self.buffer)
        offset = 0
        for p in self.parameters:
            p.grad = self.buffer[offset:offset + p.numel()].view_as(p)  # read before the next step
            offset += p.numel()
        return float(self.buffer[offset])

    def gathered(self, outputs):
        """Every process's outputs (NumPy, or None for an empty share) joined in rank order."""
        if not self.spread:
            return outputs
        shares = [None] * self.processes.world_size
        dist.all_gather_object(shares, outputs)
        return np.concatenate([share for share in shares if share is not None], 0)

    def barrier(self):
        if self.spread:
            dist.barrier()


def close():
    """Leave the process group at the end of a run (torch warns otherwise)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
