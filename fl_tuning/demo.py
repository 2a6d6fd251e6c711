"""The bundled demo: FL-tuning a tiny random backbone on a synthetic text classification task.

It writes a tiny Google-format checkpoint (fl_tuning.tiny), builds the backbone with
FL-tuning exactly as a real run does, trains only the added units and the head with
the original's optimizer, and reports dev accuracy. The model is tiny and random:
the figures show that the machinery works, not what FL-tuning achieves.
"""
import os

import numpy as np
from bert4keras.snippets import sequence_padding
from keras.layers import Dense, Lambda
from keras.models import Model

from fl_tuning.models import build_model, last_layer_name, parameter_report
from fl_tuning.optimizers import get_optimizer
from fl_tuning.tiny import TINY_CHARACTERS, write_tiny_model
from fl_tuning.vocab import build_tokenizer, load_vocabulary


def synthetic_texts(count, rng):
    """Short texts whose label says which half of the character list they come from."""
    characters = list(dict.fromkeys(TINY_CHARACTERS))
    halves = characters[:len(characters) // 2], characters[len(characters) // 2:]
    return [(''.join(rng.choice(halves[i % 2], size=8)), i % 2) for i in range(count)]


def encode_texts(tokenizer, examples):
    token_ids = sequence_padding([tokenizer.encode(text, maxlen=32)[0] for text, _ in examples])
    # Segment ids all zero, as every task of the original feeds them.
    return [token_ids, np.zeros_like(token_ids)], np.array([[label] for _, label in examples])


def run_demo(backbone='bert', output_dir='demo_output', ffn_prompt_size=16, epochs=10,
             batch_size=16, learning_rate=1e-2, seed=0, log=print):
    rng = np.random.RandomState(seed)
    np.random.seed(seed)
    model_dir = os.path.join(output_dir, 'tiny_%s' % backbone)
    config_path, checkpoint_path, vocab_path = write_tiny_model(backbone, model_dir, seed=seed)
    log('wrote a tiny random %s checkpoint (NOT a pretrained model) to %s' % (backbone, model_dir))
    token_dict, keep_tokens = load_vocabulary(vocab_path)
    tokenizer = build_tokenizer(token_dict)
    transformer = build_model(backbone, config_path, checkpoint_path,
                              ffn_prompt_size=ffn_prompt_size, keep_tokens=keep_tokens)
    report = parameter_report(transformer)
    log('FL-tuning with %d added units per layer: %d trainable of %d backbone parameters (%.2f%%)'
        % (ffn_prompt_size, report['trainable'], report['total'], report['trainable_percent']))

    cls = Lambda(lambda x: x[:, 0])(transformer.model.get_layer(last_layer_name(transformer)).output)
    output = Dense(2, activation='softmax', kernel_initializer=transformer.initializer)(cls)
    model = Model(transformer.model.input, output)
    train_x, train_y = encode_texts(tokenizer, synthetic_texts(512, rng))
    dev_x, dev_y = encode_texts(tokenizer, synthetic_texts(64, rng))
    steps = int(np.ceil(len(train_y) / float(batch_size))) * epochs
    model.compile(loss='sparse_categorical_crossentropy',
                  optimizer=get_optimizer(learning_rate, 0, steps), metrics=['accuracy'])
    history = []
    for epoch in range(epochs):
        fit = model.fit(train_x, train_y, batch_size=batch_size, epochs=1, verbose=0)
        accuracy = float(np.mean(model.predict(dev_x).argmax(1) == dev_y[:, 0]))
        history.append(accuracy)
        log('epoch %d/%d: train loss %.4f, dev accuracy %.3f'
            % (epoch + 1, epochs, fit.history['loss'][0], accuracy))
    return {'parameters': report, 'dev_accuracy': history}
