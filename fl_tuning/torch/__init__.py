"""The PyTorch side: the same runs on Hugging Face transformers backbones (BertModel,
NezhaModel, RoFormerModel), behind the interface every framework implements
(fl_tuning.framework). It reads the same Google-format checkpoints with NumPy
(fl_tuning.tf_checkpoint) and never imports TensorFlow."""
