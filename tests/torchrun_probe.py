"""Started by tests/test_torchrun.py under torchrun: the command line's run (arguments
after the folder), with the rows of every forward pass this process makes ('train' or
'predict') written to FOLDER/rows-<rank>.json."""
import json
import os
import sys

from fl_tuning.cli import main
from fl_tuning.torch.heads import TaskModel

forward_passes = []
unprobed_forward = TaskModel.forward


def probed_forward(model, inputs):
    forward_passes.append(['train' if model.training else 'predict', int(inputs[0].shape[0])])
    return unprobed_forward(model, inputs)


TaskModel.forward = probed_forward
code = main(sys.argv[2:])
with open(os.path.join(sys.argv[1], 'rows-%s.json' % os.environ.get('RANK', '0')), 'w') as f:
    json.dump(forward_passes, f)
sys.exit(code)
