"""Full fine-tuning, the paper's reference: every backbone weight trains (embeddings,
attention, feed-forward, LayerNorms)."""
from fl_tuning.methods.base import TuningMethod


class FineTuning(TuningMethod):
    name = 'finetune'
    title = 'Full fine-tuning'
    source = 'Devlin et al. 2019 (BERT)'
    default_learning_rate = 2e-5
    learning_rate_source = ('BERT (Devlin et al. 2019) fine-tunes at 2e-5 to 5e-5: the low end, '
                            'ours, for 10 to 50 epochs without warm-up')
    exclusive = True
    folds = True  # every weight is tuned in place

    def parameter_count(self, dimensions):
        d, f, n = dimensions.hidden_size, dimensions.intermediate_size, dimensions.num_hidden_layers
        heads = dimensions.num_attention_heads
        qk, v = heads * dimensions.attention_key_size, heads * dimensions.attention_head_size
        embeddings = (dimensions.vocab_size + dimensions.segment_vocab_size) * d + 2 * d
        if dimensions.absolute_positions:
            embeddings += dimensions.max_position * d
        attention = 2 * (d * qk + qk) + (d * v + v) + (v * d + d)
        feed_forward = (d * f + f) + (f * d + d)
        layer_norms = 2 * 2 * d
        return embeddings + n * (attention + feed_forward + layer_norms)
