"""FL-tuning through peft as a Hugging Face user drives it: get_peft_model with a task
type, transformers' Trainer (checkpoints, resume, gradient checkpointing), save and load
in a fresh process, merge and reload with plain transformers, disable, unload, several
adapters, merge_adapter/unmerge_adapter, dtypes; on BERT, RoBERTa, DistilBERT and a
tiny LLaMA, and the layouts' other kin."""
import json
import os
import subprocess
import sys

import pytest
import torch
import transformers
from peft import AutoPeftModelForSequenceClassification, PeftModel, get_peft_model

import fl_tuning.torch.peft_method  # noqa: F401 (makes peft know FL_TUNING)
from fl_tuning.torch.peft_method import FLTuningConfig, FLTuningLayer
from tiny_models import TASK_CLASSES, available, batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOW = ['bert', 'roberta', 'distilbert', 'llama']
UNITS = 8
WIDTH = 37  # the tiny models' feed-forward width
MERGE_TOLERANCE = 1e-5


def logits(model, architecture, **kwargs):
    model.eval()
    with torch.no_grad():
        return model(**batch(architecture), **kwargs).logits


def peft_model(folder, task_type='SEQ_CLS', **config):
    base = TASK_CLASSES[task_type].from_pretrained(folder)
    return get_peft_model(base, FLTuningConfig(task_type=task_type, extra_units=UNITS, **config))


def train(model, architecture, steps=3, seed=0):
    """A few AdamW steps on random labels (dropout on)."""
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        inputs = batch(architecture)
        loss = model(**inputs, labels=torch.tensor([0, 2, 1])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def run_fresh(script, with_project):
    """Run ``script`` in a fresh Python; it prints JSON. Without the project on the path
    (and from another folder), only peft and transformers are importable."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    if with_project:
        env['PYTHONPATH'] = ROOT
    result = subprocess.run([sys.executable, '-c', script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd='/')
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def unit_parameters(model):
    return {name: p for name, p in model.named_parameters() if '.fl_tuning_units.' in name}


def backbone_parameters(model):
    """The pretrained weights (units and head copies left out), by their base names."""
    return {name.replace('base_model.model.', '').replace('.base_layer', ''): p.detach().clone()
            for name, p in model.named_parameters()
            if '.fl_tuning_units.' not in name and 'modules_to_save' not in name and 'original_module' not in name}


# -- Trainer ----------------------------------------------------------------------------------
class Examples(torch.utils.data.Dataset):
    def __init__(self, architecture, count=24):
        generator = torch.Generator().manual_seed(3)
        self.rows = []
        for index in range(count):
            inputs = batch(architecture, batch_size=1, seed=100 + index)
            self.rows.append({'input_ids': inputs['input_ids'][0], 'attention_mask': inputs['attention_mask'][0],
                              'labels': torch.randint(0, 3, (), generator=generator)})

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def trainer(model, architecture, output_dir, **arguments):
    settings = dict(output_dir=output_dir, max_steps=6, save_steps=3, per_device_train_batch_size=4,
                    learning_rate=1e-2, seed=7, report_to=[], disable_tqdm=True, use_cpu=True, logging_steps=1)
    settings.update(arguments)
    return transformers.Trainer(model=model, args=transformers.TrainingArguments(**settings),
                                train_dataset=Examples(architecture))


@pytest.mark.parametrize('architecture', WORKFLOW)
def test_trainer_trains_the_units_and_the_head_checkpoints_and_resumes(architecture, tiny, tmp_path):
    folder = tiny(architecture)
    model = peft_model(folder)
    before = backbone_parameters(model)
    units_before = {name: p.detach().clone() for name, p in unit_parameters(model).items()}
    head = [name for name, p in model.named_parameters() if 'modules_to_save' in name and p.requires_grad]
    assert head, 'the task type makes the head trainable'
    head_before = {name: p.detach().clone() for name, p in model.named_parameters() if name in head}
    trainer(model, architecture, str(tmp_path / 'run')).train()

    after = backbone_parameters(model)
    assert all(torch.equal(before[name], after[name]) for name in before), 'the backbone is unchanged'
    assert all(not torch.equal(units_before[name], p) for name, p in unit_parameters(model).items())
    assert all(not torch.equal(head_before[name], p) for name, p in model.named_parameters() if name in head)
    for step in (3, 6):
        files = os.listdir(str(tmp_path / 'run' / ('checkpoint-%d' % step)))
        assert {'adapter_config.json', 'adapter_model.safetensors'} <= set(files)

    resumed = peft_model(folder)
    trainer(resumed, architecture, str(tmp_path / 'run')).train(
        resume_from_checkpoint=str(tmp_path / 'run' / 'checkpoint-3'))
    finished, again = dict(model.named_parameters()), dict(resumed.named_parameters())
    assert max(float((finished[name] - again[name]).abs().max()) for name in finished) <= 1e-6


@pytest.mark.parametrize('architecture', ['bert', 'llama'])
def test_trainer_with_gradient_checkpointing(architecture, tiny, tmp_path):
    model = peft_model(tiny(architecture))
    units_before = {name: p.detach().clone() for name, p in unit_parameters(model).items()}
    trainer(model, architecture, str(tmp_path / 'run'), gradient_checkpointing=True, max_steps=2,
            save_strategy='no').train()
    assert all(not torch.equal(units_before[name], p) for name, p in unit_parameters(model).items())


# -- save and load ----------------------------------------------------------------------------
LOAD_SCRIPT = """
import json, sys, torch, transformers
%s
from peft import PeftModel, AutoPeftModelForSequenceClassification
sys.path.insert(0, %r)
from tiny_models import batch
base = transformers.AutoModelForSequenceClassification.from_pretrained(%r)
loaded = PeftModel.from_pretrained(base, %r).eval()
auto = AutoPeftModelForSequenceClassification.from_pretrained(%r).eval()
with torch.no_grad():
    print(json.dumps([m(**batch(%r)).logits.tolist() for m in (loaded, auto)]))
"""


@pytest.mark.quick
@pytest.mark.parametrize('architecture', WORKFLOW)
def test_save_and_load_in_a_fresh_process(architecture, tiny, tmp_path):
    folder = tiny(architecture)
    model = train(peft_model(folder), architecture)
    model.save_pretrained(str(tmp_path / 'adapter'))
    assert {'adapter_config.json', 'adapter_model.safetensors'} <= set(os.listdir(str(tmp_path / 'adapter')))
    with open(str(tmp_path / 'adapter' / 'adapter_config.json')) as f:
        saved = json.load(f)
    assert saved['extra_units'] == UNITS and 'classifier' in saved['modules_to_save']
    script = LOAD_SCRIPT % ('import fl_tuning.torch.peft_method', os.path.dirname(__file__), folder,
                            str(tmp_path / 'adapter'), str(tmp_path / 'adapter'), architecture)
    code, out, err = run_fresh(script, with_project=True)
    assert code == 0, err
    expected = logits(model, architecture)
    for restored in json.loads(out):
        assert float((torch.tensor(restored) - expected).abs().max()) <= 1e-6


def test_loading_without_the_import_says_what_to_import(tiny, tmp_path):
    model = peft_model(tiny('bert'))
    model.save_pretrained(str(tmp_path / 'adapter'))
    script = LOAD_SCRIPT % ('', os.path.dirname(__file__), tiny('bert'), str(tmp_path / 'adapter'),
                            str(tmp_path / 'adapter'), 'bert')
    code, _, err = run_fresh(script, with_project=False)
    assert code != 0
    assert 'import fl_tuning.torch.peft_method' in err.strip().splitlines()[-1]


# -- merge --------------------------------------------------------------------------------------
PLAIN_SCRIPT = """
import json, sys, torch, transformers
sys.path.insert(0, %r)
from tiny_models import batch
model = transformers.AutoModelForSequenceClassification.from_pretrained(%r).eval()
assert not any(name.startswith(('fl_tuning', 'peft')) for name in sys.modules)
with torch.no_grad():
    print(json.dumps(model(**batch(%r)).logits.tolist()))
"""


def reload_plain(merged, architecture, folder):
    merged.save_pretrained(folder)
    code, out, err = run_fresh(PLAIN_SCRIPT % (os.path.dirname(__file__), folder, architecture), with_project=False)
    assert code == 0, err
    return torch.tensor(json.loads(out))


@pytest.mark.quick
@pytest.mark.parametrize('architecture', WORKFLOW)
def test_merge_and_unload_reloads_with_plain_transformers(architecture, tiny, tmp_path):
    model = train(peft_model(tiny(architecture)), architecture)
    expected = logits(model, architecture)
    merged = model.merge_and_unload()
    assert not any(isinstance(m, FLTuningLayer) or 'Wrapper' in type(m).__name__ for m in merged.modules())
    width_name = 'hidden_dim' if architecture == 'distilbert' else 'intermediate_size'
    assert getattr(merged.config, width_name) == WIDTH + UNITS
    assert float((logits(merged, architecture) - expected).abs().max()) <= MERGE_TOLERANCE
    reloaded = reload_plain(merged, architecture, str(tmp_path / 'merged'))
    assert float((reloaded - expected).abs().max()) <= MERGE_TOLERANCE


@pytest.mark.parametrize('architecture', ['bert', 'llama'])
def test_layers_to_transform_merges_into_a_model_that_reloads(architecture, tiny, tmp_path):
    model = train(peft_model(tiny(architecture), layers_to_transform=[1]), architecture)
    tuned = [name for name, m in model.named_modules() if isinstance(m, FLTuningLayer)]
    assert tuned and all('.1.' in name for name in tuned)
    expected = logits(model, architecture)
    merged = model.merge_and_unload()
    reloaded = reload_plain(merged, architecture, str(tmp_path / 'merged'))
    assert float((reloaded - expected).abs().max()) <= MERGE_TOLERANCE


@pytest.mark.parametrize('architecture', ['bert', 'llama'])
def test_merge_adapter_and_unmerge_adapter(architecture, tiny):
    model = train(peft_model(tiny(architecture)), architecture)
    layers = [m for m in model.modules() if isinstance(m, FLTuningLayer)]
    originals = [(m.base_layer.weight, m.base_layer.weight.detach().clone()) for m in layers]
    expected = logits(model, architecture)
    model.merge_adapter()
    assert all(m.merged for m in layers)
    assert {m.base_layer.weight.shape[0 if m.side == 'in' else 1] for m in layers} == {WIDTH + UNITS}
    assert float((logits(model, architecture) - expected).abs().max()) <= MERGE_TOLERANCE
    model.unmerge_adapter()
    for m, (tensor, values) in zip(layers, originals):
        assert m.base_layer.weight is tensor and torch.equal(tensor, values)
    assert torch.equal(logits(model, architecture), expected)
    train(model, architecture, steps=1)  # and training goes on


@pytest.mark.parametrize('architecture', WORKFLOW)
def test_disable_adapter_and_unload_give_the_base_model(architecture, tiny):
    folder = tiny(architecture)
    base = TASK_CLASSES['SEQ_CLS'].from_pretrained(folder)
    expected = logits(base, architecture)
    model = train(peft_model(folder), architecture)
    assert not torch.equal(logits(model, architecture), expected)
    with model.disable_adapter():
        assert torch.equal(logits(model, architecture), expected)
    model.eval()
    hidden = model(**batch(architecture), output_hidden_states=True).hidden_states[-1]
    unloaded = model.unload()
    base_hidden = base(**batch(architecture), output_hidden_states=True).hidden_states[-1]
    assert torch.equal(unloaded(**batch(architecture), output_hidden_states=True).hidden_states[-1], base_hidden)
    assert not torch.equal(hidden, base_hidden)


def test_several_adapters_add_set_delete(tiny):
    model = train(peft_model(tiny('bert')), 'bert')
    first = logits(model, 'bert')
    model.add_adapter('second', FLTuningConfig(task_type='SEQ_CLS', extra_units=3))
    model.set_adapter('second')
    train(model, 'bert', seed=1)
    second = logits(model, 'bert')
    assert not torch.equal(first, second)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad and 'fl_tuning' in name]
    assert trainable and all('.second.' in name for name in trainable)
    model.set_adapter('default')
    assert torch.equal(logits(model, 'bert'), first)
    model.delete_adapter('second')
    assert 'second' not in model.peft_config
    assert not any('second' in name for name, _ in model.named_parameters())
    assert torch.equal(logits(model, 'bert'), first)


# -- task types, heads, forward ---------------------------------------------------------------
@pytest.mark.parametrize('architecture,task_type,head', [
    ('bert', 'TOKEN_CLS', 'classifier'), ('bert', 'QUESTION_ANS', 'qa_outputs'),
    ('llama', 'CAUSAL_LM', None), ('bert', 'FEATURE_EXTRACTION', None), ('distilbert', 'SEQ_CLS', 'pre_classifier')])
def test_task_types(architecture, task_type, head, tiny):
    model = peft_model(tiny(architecture, task_type), task_type=task_type)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any('.fl_tuning_units.' in name for name in trainable)
    if head:
        assert any('%s.modules_to_save' % head in name for name in trainable)
    else:
        assert all('.fl_tuning_units.' in name for name in trainable)
    model.eval()
    inputs = batch(architecture)
    with torch.no_grad():
        as_dict = model(**inputs)
        as_tuple = model(**inputs, return_dict=False)
    assert torch.equal(as_dict.to_tuple()[0], as_tuple[0])
    if task_type == 'CAUSAL_LM':
        generated = model.generate(input_ids=inputs['input_ids'][:1], max_new_tokens=3, do_sample=False)
        assert generated.shape == (1, inputs['input_ids'].shape[1] + 3)
        assert callable(model.prepare_inputs_for_generation)


def test_wrapped_model_attributes_are_reachable(tiny):
    model = peft_model(tiny('bert'))
    assert model.config.model_type == 'bert'
    assert model.base_model.config is model.base_model.model.config
    model.gradient_checkpointing_enable()
    assert model.base_model.model.is_gradient_checkpointing


def test_without_a_task_type_the_head_is_named_in_a_warning(tiny):
    base = TASK_CLASSES['SEQ_CLS'].from_pretrained(tiny('bert'))
    with pytest.warns(UserWarning, match="head classifier stays frozen.*task_type='SEQ_CLS'"):
        get_peft_model(base, FLTuningConfig(extra_units=UNITS))


def test_zero_output_init_leaves_the_outputs_and_the_default_does_not(tiny):
    folder = tiny('bert')
    expected = logits(TASK_CLASSES['SEQ_CLS'].from_pretrained(folder), 'bert')
    assert torch.equal(logits(peft_model(folder, init_weights='zero_output'), 'bert'), expected)
    assert not torch.equal(logits(peft_model(folder), 'bert'), expected)


# -- dtypes -----------------------------------------------------------------------------------
@pytest.mark.parametrize('architecture', ['bert', 'llama'])
@pytest.mark.parametrize('autocast_adapter_dtype', [True, False])
def test_a_bfloat16_base_model_trains_and_merges(architecture, autocast_adapter_dtype, tiny):
    base = TASK_CLASSES['SEQ_CLS'].from_pretrained(tiny(architecture)).to(torch.bfloat16)
    model = get_peft_model(base, FLTuningConfig(task_type='SEQ_CLS', extra_units=UNITS),
                           autocast_adapter_dtype=autocast_adapter_dtype)
    units = unit_parameters(model)
    assert {p.dtype for p in units.values()} == {torch.float32 if autocast_adapter_dtype else torch.bfloat16}
    train(model, architecture, steps=2)
    expected = logits(model, architecture)
    assert expected.dtype == torch.bfloat16
    merged = model.merge_and_unload()
    assert {p.dtype for p in merged.parameters()} == {torch.bfloat16}
    assert float((logits(merged, architecture) - expected).abs().max()) <= 0.05


def test_to_after_wrapping_and_autocast(tiny):
    model = peft_model(tiny('bert'))
    model.to(torch.float64)
    assert {p.dtype for p in unit_parameters(model).values()} == {torch.float64}
    full = logits(model, 'bert').float()
    model.to(torch.float32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = logits(model, 'bert').float()
    assert float((mixed - full).abs().max()) <= 0.05


# -- layouts ------------------------------------------------------------------------------------
KIN = ['electra', 'xlm-roberta', 'roformer', 'nezha', 'mistral', 'qwen2']


@pytest.mark.parametrize('architecture', KIN)
def test_the_layouts_other_kin_merge_exactly(architecture, tiny, tmp_path):
    if not available(architecture):
        pytest.skip('this transformers release has no %s' % architecture)
    model = train(peft_model(tiny(architecture)), architecture)
    layers = [name for name, m in model.named_modules() if isinstance(m, FLTuningLayer)]
    assert len(layers) == 2 * (3 if architecture in ('mistral', 'qwen2') else 2)
    expected = logits(model, architecture)
    reloaded = reload_plain(model.merge_and_unload(), architecture, str(tmp_path / 'merged'))
    assert float((reloaded - expected).abs().max()) <= MERGE_TOLERANCE


def test_target_modules_as_a_list_leaves_attention_alone(tiny):
    model = peft_model(tiny('bert'), target_modules=['intermediate.dense', 'output.dense'])
    layers = sorted(name.split('encoder.')[1] for name, m in model.named_modules() if isinstance(m, FLTuningLayer))
    assert layers == ['layer.0.intermediate.dense', 'layer.0.output.dense',
                      'layer.1.intermediate.dense', 'layer.1.output.dense']


def test_half_a_feed_forward_layer_is_refused(tiny):
    base = TASK_CLASSES['SEQ_CLS'].from_pretrained(tiny('llama'))
    with pytest.raises(ValueError, match='block model.layers.0 would get them in mlp.gate_proj and not in '
                                         'mlp.down_proj, mlp.up_proj'):
        get_peft_model(base, FLTuningConfig(task_type='SEQ_CLS', target_modules=['gate_proj']))


def test_an_unknown_layout_is_refused_naming_the_supported_ones():
    config = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=16)
    with pytest.raises(ValueError, match=r'no feed-forward layer it knows.*BERT family.*DistilBERT.*gated MLP'):
        get_peft_model(transformers.GPT2LMHeadModel(config), FLTuningConfig(task_type='CAUSAL_LM'))


def test_a_list_of_target_modules_is_hashable_and_bad_values_are_refused():
    assert FLTuningConfig(target_modules=['gate_proj', 'up_proj', 'down_proj']).target_modules == \
        {'gate_proj', 'up_proj', 'down_proj'}
    with pytest.raises(ValueError, match='extra_units must be a positive integer'):
        FLTuningConfig(extra_units=0)
    with pytest.raises(ValueError, match='init_weights must be one of'):
        FLTuningConfig(init_weights='gaussian')
