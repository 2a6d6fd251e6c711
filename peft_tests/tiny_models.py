"""Tiny random transformers models saved as folders, one per architecture and task
model, for the peft method's tests and example: nothing comes from a hub. Every size
is small and odd (feed-forward width 37) so that a mix-up of widths fails loudly."""
import os

import torch
import transformers

VOCAB = 120
# The sizes every tiny config shares (DistilBERT names them its own way).
ENCODER = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
               max_position_embeddings=64)
DECODER = dict(ENCODER, num_key_value_heads=2, pad_token_id=0)
CONFIGS = {
    'bert': lambda: transformers.BertConfig(**ENCODER),
    'roberta': lambda: transformers.RobertaConfig(**dict(ENCODER, pad_token_id=1)),
    'xlm-roberta': lambda: transformers.XLMRobertaConfig(**dict(ENCODER, pad_token_id=1)),
    'electra': lambda: transformers.ElectraConfig(embedding_size=16, **ENCODER),
    'roformer': lambda: transformers.RoFormerConfig(embedding_size=32, **ENCODER),
    'nezha': lambda: transformers.NezhaConfig(**ENCODER),
    'distilbert': lambda: transformers.DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4,
                                                        hidden_dim=37, max_position_embeddings=64),
    'llama': lambda: transformers.LlamaConfig(**DECODER),
    'mistral': lambda: transformers.MistralConfig(**DECODER),
    'qwen2': lambda: transformers.Qwen2Config(**DECODER),
}
# transformers' task classes by peft task type.
TASK_CLASSES = {
    'SEQ_CLS': transformers.AutoModelForSequenceClassification,
    'TOKEN_CLS': transformers.AutoModelForTokenClassification,
    'QUESTION_ANS': transformers.AutoModelForQuestionAnswering,
    'CAUSAL_LM': transformers.AutoModelForCausalLM,
    'FEATURE_EXTRACTION': transformers.AutoModel,
}


def available(architecture):
    """Whether this transformers release has the architecture (5.x dropped NEZHA)."""
    try:
        CONFIGS[architecture]()
    except AttributeError:
        return False
    return True


def write_tiny_model(architecture, task_type, folder, seed=0):
    """Save a random ``architecture`` model for ``task_type`` (3 labels where it
    classifies) in ``folder``; returns the folder."""
    config = CONFIGS[architecture]()
    if task_type in ('SEQ_CLS', 'TOKEN_CLS'):
        config.num_labels = 3
    torch.manual_seed(seed)
    model = TASK_CLASSES[task_type].from_config(config)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    return folder


def batch(architecture, batch_size=3, length=9, seed=1):
    """input_ids and an attention mask with padding (the last rows shorter)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, VOCAB, (batch_size, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row in range(1, batch_size):
        attention_mask[row, length - 2 * row:] = 0
    input_ids[attention_mask == 0] = 1 if architecture in ('roberta', 'xlm-roberta') else 0
    return {'input_ids': input_ids, 'attention_mask': attention_mask}
