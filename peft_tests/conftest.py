import os
import sys

import pytest

# Nothing here comes from the hub: peft and transformers must not ask it (they retry for
# half a minute when it cannot be reached), here nor in the fresh processes the tests start.
os.environ['HF_HUB_OFFLINE'] = '1'

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tiny_models import write_tiny_model  # noqa: E402


@pytest.fixture(scope='session')
def tiny(tmp_path_factory):
    """tiny(architecture, task_type): the folder of that tiny model, written once."""
    root = tmp_path_factory.mktemp('tiny')
    written = {}

    def folder(architecture, task_type='SEQ_CLS'):
        key = (architecture, task_type)
        if key not in written:
            written[key] = write_tiny_model(architecture, task_type, str(root / ('%s-%s' % key)))
        return written[key]
    return folder
