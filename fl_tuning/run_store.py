"""Where a run keeps what it writes, below its output folder: the tuned weights, the
resumable state, the record, the submissions, the dev predictions and the few-shot
samples; and what a resumed run finds there. No framework: the framework writes the
weights and state files at the paths given here, and reads their JSON for it."""
import json
import os

from fl_tuning.data_files import remove_partial_files
from fl_tuning.errors import InputError
from fl_tuning.records import read_record, record_path, write_record
from fl_tuning.weight_files import read_state

OUTPUT_FOLDERS = ('weights', 'results', 'records', 'state')


class RunStore(object):

    def __init__(self, output_dir, task_name, log=print):
        self.output_dir, self.task_name = output_dir, task_name
        self.log = log
        self.weights_path = os.path.join(output_dir, 'weights', '%s.weights' % task_name)
        self.record_path = record_path(output_dir, task_name)
        self.state_path = os.path.join(output_dir, 'state', '%s.state' % task_name)
        self.results_dir = os.path.join(output_dir, 'results')
        self.dev_predictions_path = os.path.join(output_dir, 'dev_predictions', '%s.json' % task_name)

    def few_shot_folder(self, split, k, seed):
        return os.path.join(self.output_dir, 'few_shot', self.task_name, '%s-k%d-seed%d' % (split, k, seed))

    def submission_path(self, test_file):
        return os.path.join(self.results_dir, test_file.submission)

    def remove_partial_files(self):
        """What a killed run left of interrupted atomic writes."""
        for folder in OUTPUT_FOLDERS:
            remove_partial_files(os.path.join(self.output_dir, folder))

    def completed_summary(self):
        record = read_record(self.record_path)
        return record.summary if record is not None else None

    def saved_seed(self, default):
        """The seed of the run being resumed (from its state or finished record)."""
        if os.path.isfile(self.state_path):
            return read_state(self.state_path)['settings']['seed']
        summary = self.completed_summary()
        return summary['settings']['seed'] if summary else default

    def saved_progress(self, settings):
        """(saved state, None) for a run to continue, (None, summary) for a completed
        one, (None, None) for nothing saved; what was saved must have ``settings``.
        Read before building: neither a refused resume nor a completed run costs a model."""
        if os.path.isfile(self.state_path):
            state = read_state(self.state_path)
            check_same_settings(settings, state['settings'], self.state_path)
            return state, None
        summary = self.completed_summary()
        if summary is not None:
            check_same_settings(settings, summary['settings'], self.record_path)
            self.log('%s is complete already: nothing to resume' % self.record_path)
            return None, summary
        self.log('no saved state in %s: starting from the first epoch' % self.state_path)
        return None, None

    def write_record(self, run, epochs, summary=None):
        write_record(self.record_path, run, epochs, summary)

    def remove_state(self):
        """Once the run is complete its record says all."""
        if os.path.isfile(self.state_path):
            os.remove(self.state_path)
            if not os.listdir(os.path.dirname(self.state_path)):
                os.rmdir(os.path.dirname(self.state_path))


def check_same_settings(mine, saved, path):
    mine = json.loads(json.dumps(mine, sort_keys=True))
    if saved != mine:
        differing = sorted(k for k in set(mine) | set(saved) if mine.get(k) != saved.get(k))
        raise InputError('%s was written by a run with other settings (%s): resume with the '
                         'same settings, or start anew without --resume' % (path, ', '.join(differing)))
