"""Full fine-tuning on Keras: every backbone layer trainable. The MLM head that
``application='unilm'`` builds is on no task's path and stays frozen."""
import fl_tuning.methods.finetune as methods_finetune
from fl_tuning.keras.methods.base import KerasMethod


class FineTuning(methods_finetune.FineTuning, KerasMethod):
    def unfreeze(self, transformer):
        for layer in transformer.backbone_layers:
            layer.trainable = True
