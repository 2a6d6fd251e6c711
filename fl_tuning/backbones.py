"""The backbones every framework builds, by the names the command line and records use."""
BACKBONES = ('bert', 'nezha', 'roformer')

# The initializer bert4keras gives every weight it creates: TruncatedNormal(stddev=0.02).
INITIALIZER_STDDEV = 0.02

# bert_config.json of a BERT-base-sized model (Google's Chinese BERT, RoBERTa-wwm-ext): the
# benchmarks' random models.
BERT_BASE_CONFIG = {
    'attention_probs_dropout_prob': 0.1,
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.1,
    'hidden_size': 768,
    'initializer_range': 0.02,
    'intermediate_size': 3072,
    'max_position_embeddings': 512,
    'num_attention_heads': 12,
    'num_hidden_layers': 12,
    'type_vocab_size': 2,
    'vocab_size': 21128,
}

# bert4keras' LayerNormalization epsilon.
LAYER_NORM_EPSILON = 1e-12
# bert4keras' NEZHA clips relative distances at 64 whatever its config says.
NEZHA_MAX_RELATIVE_POSITION = 64
