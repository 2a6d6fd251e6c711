"""A tuning method on the PyTorch side: the parts it adds (``build``, one module the
encoder keeps under the method's name), the hooks through which they enter the
forward pass (fl_tuning.torch.encoder.TunedEncoder, the same points as the Keras
side's), where its weights stand in the Keras model's creation order (so both sides
start from the same values), and which weights it trains. A unit overrides only the
hooks it needs; each default leaves the backbone as it is."""


class TorchMethod(object):
    def build(self, encoder):
        """The module holding this method's parameters, or None."""
        return None

    def creation_slots(self, encoder, where, index=None):
        """fl_tuning.torch.encoder.Slot of each weight the Keras side creates at ``where``
        ('embeddings'; 'block', 'prefixes', 'feed_forward' of block ``index``)."""
        return []

    # -- extension points (called by the forward pass) -------------------------------
    def embedding_output(self, encoder, x, mask):
        return x, mask

    def attention_bias(self, encoder, bias):
        """The additive attention bias of every layer ([B, 1, L, L])."""
        return bias

    def block_input(self, encoder, x, index, token_ids):
        return x

    def key_value_prefixes(self, encoder, x, mask, index):
        """(key prefixes, value prefixes) [B or 1, heads, P, size] of block ``index``, or None."""
        return None

    def feed_forward_branch(self, encoder, x, index):
        """Added to block ``index``'s feed-forward output (before its dropout), or None."""
        return None

    def encoder_output(self, encoder, x, mask):
        return x, mask

    # -- what trains -------------------------------------------------------------------
    def trainable(self, encoder):
        """The parameters this method trains (everything else is frozen first)."""
        raise NotImplementedError

    def keras_layers(self, encoder):
        """[(Keras layer name, [(parameter, transposed)])]: where what this method trains
        stands in the faithful port's tuned-weights layout (fl_tuning.weight_files)."""
        raise NotImplementedError

    # -- export (fl_tuning.export) -----------------------------------------------------
    def fold(self, encoder, config, weights):
        """Put what this method trained into a plain backbone, in place: ``config`` is its
        bert_config.json, ``weights`` its transformers parameters {name: tensor}. Methods
        that train backbone weights in place need do nothing."""
