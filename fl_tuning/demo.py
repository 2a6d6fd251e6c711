"""The bundled demo: the whole pipeline of a real run on a tiny random model.

It writes a tiny Google-format checkpoint (fl_tuning.testing.tiny), then runs the tnews task
with FL-tuning on the tnews-format data the package ships (fl_tuning/demo_data):
training, dev evaluation, best-epoch choice, the CLUE submission files. The model is
tiny and random, so the hyperparameters are the demo's own (a higher learning rate,
few epochs) and the figures show the machinery working, not FL-tuning's quality.
"""
import os

from fl_tuning.run import Run, RunConfig
from fl_tuning.testing.tiny import write_tiny_model

DEMO_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'demo_data')
DEMO_SETTINGS = dict(task='tnews', ffn_prompt_size=16, epochs=10, batch_size=16, learning_rate=1e-2,
                     seed=0)


def run_demo(output_dir='demo_output', backbone='bert', progress=True, log=print, framework='keras'):
    model_dir = os.path.join(output_dir, 'tiny_%s' % backbone)
    write_tiny_model(backbone, model_dir)
    log('NOTE: this demo uses a tiny RANDOM %s checkpoint (2 layers, hidden 32) written to %s,'
        % (backbone, model_dir))
    log('      not a pretrained model, and synthetic tnews-format data from %s.' % DEMO_DATA)
    config = RunConfig(backbone=backbone, data_dir=DEMO_DATA, model_dir=model_dir,
                       output_dir=output_dir, progress=progress, framework=framework, **DEMO_SETTINGS)
    summary = Run(config, log=log).execute()
    log('best dev accuracy %.3f at epoch %s (3 topics: 0.333 is chance)' % (
        summary['best_dev']['accuracy'], summary['best_epoch']))
    for path in summary['submissions']:
        log('submission file: %s' % path)
    log('run record: %s' % os.path.join(output_dir, 'records', 'tnews.jsonl'))
    return summary
