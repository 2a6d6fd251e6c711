"""LN-tuning (Qi et al. 2022, arXiv 2211.08682): only the gains and biases of the two
LayerNorms of every layer train (and the embedding LayerNorm's with ``ln_embedding``)."""
from fl_tuning.methods.base import TuningMethod


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

    def layer_norms(self, dimensions):
        """How many LayerNorms train: two per layer, and the embeddings' with ln_embedding."""
        return 2 * dimensions.num_hidden_layers + self.ln_embedding

    def parameter_count(self, dimensions):
        return self.layer_norms(dimensions) * 2 * dimensions.hidden_size
