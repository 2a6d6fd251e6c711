"""FLTuningModel: the peft tuner that puts FLTuningLayer on a model's feed-forward
linears, switches, merges and removes them. Written against what peft 0.17.1 and its
newest releases share, so that the same class serves both: every method LoRA has on
either (``set_adapter`` with ``inference_mode``, ``delete_adapter``, the unloading that
also unwraps a trained head) is here, not inherited from one version's BaseTuner."""
import warnings

from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer
from peft.utils import _get_submodules
from peft.utils.other import AuxiliaryTrainingWrapper, _set_adapter

from fl_tuning.torch.added_units import widened_inputs, widened_outputs, zero_units
from fl_tuning.torch.peft_method.layer import FLTuningLayer
from fl_tuning.torch.peft_method.layouts import blocks, check_selection, feed_forward_linear, is_selected
from fl_tuning.torch.peft_method.registration import PREFIX

# A task model's head modules, by the names transformers gives them (peft's task types
# train those ending in classifier, score or qa_outputs: DistilBERT's pre_classifier too).
HEADS = ('classifier', 'score', 'qa_outputs', 'pre_classifier')


class FLTuningModel(BaseTuner):
    prefix = PREFIX
    tuner_layer_cls = FLTuningLayer
    target_module_mapping = {}  # layouts are found by module names (layouts.py), not by model type

    def __getattr__(self, name):
        """The wrapped model's attributes (config, gradient_checkpointing_enable, ...)."""
        try:
            return super(FLTuningModel, self).__getattr__(name)
        except AttributeError:
            if name == 'model':  # not set yet: no recursion
                raise
            return getattr(self.model, name)

    def gradient_checkpointing_enable(self, *args, **kwargs):
        """The wrapped model's, with its inputs' embeddings requiring gradients: under
        reentrant checkpointing (transformers 4's default) a block whose inputs require
        none passes no gradient to the units inside it, and they would silently not train."""
        self.model.gradient_checkpointing_enable(*args, **kwargs)
        self.model.enable_input_require_grads()

    # -- injection ---------------------------------------------------------------------
    def _prepare_adapter_config(self, peft_config, model_config):
        check_selection(peft_config, [key for key, _ in self.model.named_modules()])
        heads = [name for name in HEADS if hasattr(self.model, name)]
        if peft_config.task_type is None and not peft_config.modules_to_save and heads:
            warnings.warn('FL-tuning: the head %s stays frozen at its initial values; give the task type '
                          "(FLTuningConfig(task_type='SEQ_CLS'), ...) or modules_to_save=%r"
                          % (', '.join(heads), heads))
        return peft_config

    @staticmethod
    def _check_target_module_exists(peft_config, key):
        return is_selected(peft_config, key)

    def _create_and_replace(self, peft_config, adapter_name, target, target_name, parent, current_key, **kwargs):
        if isinstance(target, FLTuningLayer):
            target.update_layer(adapter_name, peft_config.extra_units, peft_config.zero_output)
            return
        layer = FLTuningLayer(target, feed_forward_linear(current_key).side, adapter_name,
                              peft_config.extra_units, peft_config.zero_output)
        if adapter_name not in self.active_adapters:
            layer.requires_grad_(False)
        setattr(parent, target_name, layer)

    def _mark_only_adapters_as_trainable(self, model):
        """Freeze everything but the units (a trained head's wrapper keeps its own state)."""
        wrapped = tuple(name + '.' for name, module in model.named_modules()
                        if isinstance(module, AuxiliaryTrainingWrapper))
        for name, parameter in model.named_parameters():
            if '.fl_tuning_units.' not in name and not name.startswith(wrapped):
                parameter.requires_grad = False

    # -- switching -----------------------------------------------------------------------
    def _layers(self):
        return [module for module in self.model.modules() if isinstance(module, FLTuningLayer)]

    def _set_adapter_layers(self, enabled):
        for module in self.model.modules():
            if isinstance(module, (BaseTunerLayer, AuxiliaryTrainingWrapper)):
                module.enable_adapters(enabled)

    def enable_adapter_layers(self):
        self._set_adapter_layers(True)

    def disable_adapter_layers(self):
        """The base model's outputs exactly: units off, a trained head's original back."""
        self._set_adapter_layers(False)

    def set_adapter(self, adapter_name, inference_mode=False):
        for layer in self._layers():
            if layer.merged:
                warnings.warn('Adapter cannot be set when the model is merged. Unmerging the model first.')
                layer.unmerge()
            layer.set_adapter(adapter_name)
            if inference_mode:
                for name in layer.active_adapters:
                    layer.fl_tuning_units[name].requires_grad_(False)
        _set_adapter(self.model, adapter_name)
        self.active_adapter = adapter_name

    def delete_adapter(self, adapter_name):
        if adapter_name not in self.peft_config:
            raise ValueError('Adapter %s does not exist' % adapter_name)
        if any(adapter_name in layer.merged_adapters for layer in self._layers()):
            raise ValueError('Cannot delete adapter %s while it is merged: unmerge it first' % adapter_name)
        del self.peft_config[adapter_name]
        remaining = None
        for layer in self._layers():
            layer.delete_adapter(adapter_name)
            remaining = layer.active_adapters[:] if remaining is None else remaining
        for module in self.model.modules():
            if isinstance(module, AuxiliaryTrainingWrapper):
                module.delete_adapter(adapter_name, new_active_adapters=remaining)
        self.active_adapter = remaining or []

    # -- merging and unloading -------------------------------------------------------------
    def merge_and_unload(self, progressbar=False, safe_merge=False, adapter_names=None):
        """The plain model: feed-forward layers widened by the merged units (every block
        to one width, config too), the trained head in place of its wrapper.
        ``progressbar`` is accepted for peft's signature; unloading takes no time to show."""
        return self._unload_and_optionally_merge(True, safe_merge, adapter_names)

    def unload(self):
        """The model without the units (a trained head stays, as with LoRA)."""
        return self._unload_and_optionally_merge(False)

    def _unload_and_optionally_merge(self, merge=True, safe_merge=False, adapter_names=None):
        names = adapter_names or self.active_adapters
        if sum(bool(self.peft_config[name].modules_to_save) for name in names) > 1:
            raise ValueError('Cannot unload multiple adapters that specify `modules_to_save`.')
        for key in [key for key, module in self.model.named_modules()
                    if isinstance(module, (FLTuningLayer, AuxiliaryTrainingWrapper))]:
            parent, target, target_name = _get_submodules(self.model, key)
            if isinstance(target, FLTuningLayer):
                if merge:
                    target.merge(safe_merge=safe_merge, adapter_names=adapter_names)
                setattr(parent, target_name, target.get_base_layer())
            else:
                setattr(parent, target_name, target.unload_and_optionally_merge_module(
                    merge=merge, safe_merge=safe_merge, adapter_names=adapter_names))
        if merge:
            self._equalize_widths()
        if hasattr(self.model, 'peft_config'):
            del self.model.peft_config
        return self.model

    def _equalize_widths(self):
        """Widen every feed-forward layer to the widest with zero units (they add zeros),
        so that one config width describes the merged model and ``from_pretrained``
        reloads it; the config's width follows."""
        widths = {}
        for block, linears in blocks([key for key, _ in self.model.named_modules()]).items():
            layout = feed_forward_linear(next(iter(linears.values()))).layout
            out_name = next(name for name, side in layout.linears.items() if side == 'out')
            widths[block] = (layout, linears, self.model.get_submodule(linears[out_name]).in_features)
        if not widths:
            return
        widest = max(width for _, _, width in widths.values())
        for layout, linears, width in widths.values():
            for key in linears.values() if width < widest else ():
                parent, linear, name = _get_submodules(self.model, key)
                side = feed_forward_linear(key).side
                widened = widened_outputs if side == 'in' else widened_inputs
                setattr(parent, name, widened(linear, [zero_units(linear, widest - width, side)]))
            if hasattr(getattr(self.model, 'config', None), layout.width):
                setattr(self.model.config, layout.width, widest)
