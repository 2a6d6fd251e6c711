"""FL-tuning (arXiv 2206.15312) as a peft method:

    import fl_tuning.torch.peft_method            # once per process: peft now knows FL_TUNING
    from fl_tuning.torch.peft_method import FLTuningConfig
    model = get_peft_model(model, FLTuningConfig(task_type='SEQ_CLS', extra_units=160))

adds ``extra_units`` hidden units to every feed-forward layer of a BERT-family,
DistilBERT or gated-MLP (LLaMA-style) transformers model and trains only them and the
task head. ``merge_and_unload()`` returns the plain model with F + k wide feed-forward
layers, which plain transformers reloads. docs/peft.md tells the rest.
"""
from fl_tuning.torch.peft_method.config import FLTuningConfig
from fl_tuning.torch.peft_method.layer import FLTuningLayer
from fl_tuning.torch.peft_method.layouts import LAYOUTS
from fl_tuning.torch.peft_method.model import FLTuningModel
from fl_tuning.torch.peft_method.registration import IMPORT_LINE, PEFT_TYPE, register

register(FLTuningConfig, FLTuningModel)

__all__ = ['FLTuningConfig', 'FLTuningLayer', 'FLTuningModel', 'LAYOUTS', 'IMPORT_LINE', 'PEFT_TYPE']
