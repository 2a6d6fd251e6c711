"""LN-tuning (Qi et al. 2022, arXiv 2211.08682): only the gains and biases of the two
LayerNorms of every layer train (and the embedding LayerNorm's with ``ln_embedding``)."""
from fl_tuning.methods.base import TuningMethod, attention_name, feed_forward_name


class LNTuning(TuningMethod):
    name = 'ln'
    title = 'LN-tuning'
    source = 'Qi et al. 2022, arXiv 2211.08682'
    options = ('ln_embedding',)
    folds = True  # the tuned gains and biases stay in their LayerNorms
    default_learning_rate = 1e-3
    learning_rate_source = ('ours: the LN-tuning paper\'s rates were not available to us; BitFit '
                            '(Ben Zaken et al. 2022), which also trains only gains and biases, '
                            'searched 1e-4 to 1e-3')

    def __init__(self, ln_embedding=False):
        self.ln_embedding = bool(ln_embedding)

    def settings(self):
        return {'ln_embedding': self.ln_embedding}

    def layer_names(self, transformer):
        names = ['Embedding-Norm'] if self.ln_embedding else []
        for index in range(transformer.num_hidden_layers):
            names += ['%s-Norm' % attention_name(index), '%s-Norm' % feed_forward_name(index)]
        return names

    def unfreeze(self, transformer):
        for name in self.layer_names(transformer):
            transformer.layers[name].trainable = True

    def parameter_count(self, transformer):
        return len(self.layer_names(transformer)) * 2 * transformer.hidden_size
