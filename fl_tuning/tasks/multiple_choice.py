"""Multiple-choice tasks c3 and chid (ORIGINAL_SPEC §11): each example is one
sequence per choice; [CLS] -> Dense(1) gives one logit per choice."""
import json
import os
import re

import numpy as np
from fl_tuning.text import truncate_sequences
from scipy.optimize import linear_sum_assignment

from fl_tuning.errors import InputError
from fl_tuning.data_files import (
    DataError, Location, checked_list, field, list_of, read_json, read_json_lines, write_atomically,
)
from fl_tuning.tasks.base import (
    CLS_VECTOR, Encoded, Task, json_lines, keyed_predictions, prediction_of, unique,
    write_source_lines,
)


class MultipleChoice(Task):
    """Shared head and logits layout of c3 and chid."""
    head_kind = 'choice_logit'

    @property
    def num_choices(self):
        return self.hyperparameters['num_classes']

    def head_description(self):
        return {'type': 'choice_logit', 'reads': CLS_VECTOR, 'num_choices': self.num_choices,
                'output': 'cls @ choice_logit.weight.T + choice_logit.bias: one logit per choice '
                          'sequence, num_choices consecutive rows per example',
                'prediction': "argmax over each example's choices",
                'labels': [str(i) for i in range(self.num_choices)]}

    def choice_logits(self, results):
        """[examples, choices] from the per-example [choices, 1] results."""
        return np.concatenate(results).reshape(-1, self.num_choices)

    def encoded(self, sequences, answer):
        return Encoded([sequences, [[0] * len(s) for s in sequences]],
                       [[answer]] * len(sequences))


class C3Example(object):
    __slots__ = ('passage', 'question', 'choices', 'answer', 'id', 'source')

    def __init__(self, passage, question, choices, answer, id, source=None):
        self.passage, self.question, self.choices = passage, question, choices
        self.answer, self.id, self.source = answer, id, source


class C3(MultipleChoice):
    padding_choice = u'无效答案'  # "invalid answer": pads every question to four choices

    train_files = ('m-train.json', 'd-train.json')
    dev_files = ('m-dev.json', 'd-dev.json')

    def read(self, paths, split, bad_lines):
        examples = []
        for path in paths:
            documents = read_json(path)
            if not isinstance(documents, list):
                raise DataError(Location(path), None, 'expected a JSON array of [passages, questions, id]')
            for number, document in enumerate(documents):
                location = Location(path, item='item [%d]' % number)
                with bad_lines.guard():
                    if not (isinstance(document, list) and len(document) >= 2):
                        raise DataError(location, None, 'expected [passages, questions, id]')
                    passages = checked_list(document[0], str, location, '[0] (passages)')
                    questions = checked_list(document[1], dict, location, '[1] (questions)')
                    for index, question in enumerate(questions):
                        with bad_lines.guard():
                            example = self.read_question(
                                '||'.join(passages), question, split, location.inside('[1][%d]' % index))
                            example.source = (path, number, index)
                            examples.append(example)
        return examples

    def read_question(self, passage, question, split, location):
        choices = list_of(question, 'choice', location, str)
        if not choices:
            raise DataError(location, 'choice', 'no choices')
        choices += [self.padding_choice] * (self.num_choices - len(choices))
        choices = choices[:self.num_choices]
        # The published train and dev questions carry no id; the submission needs it.
        answer, identifier = 0, None
        if split == 'test':
            if 'id' not in question:
                raise DataError(location, 'id', "missing: a submission needs the question ids of CLUE's "
                                'test files (the test files nlpdata/c3 publishes have none)')
            identifier = str(field(question, 'id', location, (int, str)))
        else:
            text = field(question, 'answer', location, str)
            if text not in choices:
                raise DataError(location, 'answer', '%r is not among the choices' % text)
            answer = choices.index(text)
        return C3Example(passage, field(question, 'question', location, str), choices, answer,
                         identifier)

    # few-shot: questions, four per K (as many as the choices)
    few_shot_rule, few_shot_quota = 'quota', 4

    def sample_unit(self, example):
        return example.source

    def write_sample(self, examples, folder):
        """Each source file's documents with only the sampled questions, under its name."""
        chosen = {}
        for path, document, question in (e.source for e in examples):
            chosen.setdefault(path, {}).setdefault(document, []).append(question)
        written = []
        for path, documents in chosen.items():
            source = read_json(path)
            subset = [[source[d][0], [source[d][1][q] for q in questions]] + source[d][2:]
                      for d, questions in sorted(documents.items())]
            target = os.path.join(folder, os.path.basename(path))
            write_atomically(target, json.dumps(subset, ensure_ascii=False))
            written.append(target)
        return written

    def encode(self, example, tokenizer, hyperparameters):
        passage = tokenizer.encode(example.passage)[0]
        question = tokenizer.encode(example.question)[0][1:]
        sequences = []
        for choice in example.choices:
            # copies: truncation shortens the lists in place
            passage_ids, question_ids = list(passage), list(question)
            choice_ids = tokenizer.encode(choice)[0][1:]
            # Tie order as the original: choice, question, passage; -2 keeps each [SEP].
            truncate_sequences(hyperparameters['maxlen'], -2, choice_ids, question_ids, passage_ids)
            sequences.append(passage_ids + question_ids + choice_ids)
        return self.encoded(sequences, example.answer)

    def evaluate(self, examples, encoded, results):
        predicted = self.choice_logits(results).argmax(1)
        return {'accuracy': float(np.mean(predicted == [e.answer for e in examples]))}

    def dev_key(self, example, several_files):
        """'<file>-<document>-<question>', e.g. 'm-dev-12-0' (dev questions carry no id)."""
        path, document, question = example.source
        return '%s-%d-%d' % (os.path.splitext(os.path.basename(path))[0], document, question)

    def score(self, examples, predictions, path):
        predicted = keyed_predictions(predictions, path)
        correct = sum(str(prediction_of(predicted, self.dev_key(e, True), path)) == str(e.answer)
                      for e in examples)
        return {'accuracy': correct / float(len(examples))}

    def submission(self, examples, encoded, results, tokenizer):
        predicted = self.choice_logits(results).argmax(1)
        return json_lines({'id': e.id, 'label': str(int(p))} for e, p in zip(examples, predicted))


BLANK = re.compile(r'#idiom\d{6}#')


class ChidExample(object):
    __slots__ = ('left', 'right', 'line', 'tag', 'answer', 'candidates', 'source')

    def __init__(self, left, right, line, tag, answer, candidates, source=None):
        self.left, self.right, self.line, self.tag = left, right, line, tag
        self.answer, self.candidates, self.source = answer, candidates, source


class Chid(MultipleChoice):

    train_files = ('train.json', 'train_answer.json')
    dev_files = ('dev.json', 'dev_answer.json')
    reserved_tokens = ('[unused1]',)

    def read(self, paths, split, bad_lines):
        questions = paths[0]
        answers = None
        if split != 'test':
            answers = read_json(paths[1])
            if not isinstance(answers, dict):
                raise DataError(Location(paths[1]), None, 'expected a JSON object {blank tag: answer}')
        examples = []
        for index, (location, record) in enumerate(read_json_lines(questions, bad_lines)):
            with bad_lines.guard():
                examples.extend(self.read_line(index, record, location, answers, paths))
        return examples

    def read_line(self, index, record, location, answers, paths):
        """The examples of one line: one per blank of each passage."""
        if isinstance(record.get('content'), str) and 'answer' in record:
            raise DataError(location, 'content', "this is FewCLUE's chid format (one passage with "
                            "a single #idiom# blank, 7 candidates and an inline 'answer'); the chid "
                            "task reads CLUE's (a list of passages, 10 candidates, answers in their "
                            'own file)')
        candidates = list_of(record, 'candidates', location, str)
        if len(candidates) != self.num_choices:
            raise DataError(location, 'candidates', 'expected %d idioms, got %d' % (
                self.num_choices, len(candidates)))
        examples = []
        for passage in list_of(record, 'content', location, str):
            segments = BLANK.split(passage)
            for k, tag in enumerate(BLANK.findall(passage)):
                answer = 0
                if answers is not None:
                    answer = answers.get(tag)
                    if answer is None:
                        raise DataError(location, 'content', 'blank %s has no answer in %s' % (tag, paths[1]))
                    if not (isinstance(answer, int) and 0 <= answer < self.num_choices):
                        raise DataError(location, 'content', 'the answer of %s in %s is %r, not a '
                                        'candidate index 0..%d' % (tag, paths[1], answer, self.num_choices - 1))
                examples.append(ChidExample(segments[:k + 1], segments[k + 1:], index, tag, answer,
                                            candidates, location))
        return examples

    # few-shot: whole lines, up to ten blanks per K (as many as the candidates)
    few_shot_rule, few_shot_quota = 'quota', 10

    def sample_unit(self, example):
        return example.source

    def write_sample(self, examples, folder):
        """The sampled lines, verbatim, and their blanks' answers."""
        questions, = write_source_lines(unique(e.source for e in examples), folder)
        answers = questions[:-len('.json')] + '_answer.json'  # CLUE's names: train.json, train_answer.json
        write_atomically(answers, json.dumps(dict((e.tag, e.answer) for e in examples), indent=4))
        return [questions, answers]

    def encode(self, example, tokenizer, hyperparameters):
        left, right = sample_split(example.left, example.right, hyperparameters['maxlen'])
        context = join_segments(tokenizer, left)
        context.append(tokenizer.token_to_id(self.reserved_tokens[0]))  # marks the blank to fill
        context += join_segments(tokenizer, right)
        context.append(tokenizer.token_to_id('[SEP]'))
        sequences = [tokenizer.encode(idiom)[0] + context for idiom in example.candidates]
        return self.encoded(sequences, example.answer)

    def assignments(self, examples, results):
        """The candidate chosen for every blank, distinct within a line (Hungarian)."""
        logits = self.choice_logits(results)
        chosen = logits.argmax(1)
        start = 0
        while start < len(examples):
            end = start
            while end < len(examples) and examples[end].line == examples[start].line:
                end += 1
            rows, columns = linear_sum_assignment(-logits[start:end])
            chosen[start + rows] = columns
            start = end
        return chosen

    def evaluate(self, examples, encoded, results):
        chosen = self.assignments(examples, results)
        return {'accuracy': float(np.mean(chosen == [e.answer for e in examples]))}

    def score(self, examples, predictions, path):
        if not isinstance(predictions, dict):
            raise InputError('%s: expected a JSON object {blank tag: candidate index}' % path)
        correct = sum(prediction_of(predictions, e.tag, path) == e.answer for e in examples)
        return {'accuracy': correct / float(len(examples))}

    def submission(self, examples, encoded, results, tokenizer):
        chosen = self.assignments(examples, results)
        answers = dict((e.tag, int(c)) for e, c in zip(examples, chosen))
        return json.dumps(answers, indent=4, ensure_ascii=False)


def sample_split(left, right, maxlen):
    """The original's character-level truncation around a blank: drop characters
    from the far ends of the longer side (whole segments once they are down to one
    character, each freeing the four [MASK] of the blank it stood for)."""
    left, right = list(left), list(right)
    offset = 3 + 4 + 1 + 4 * (len(left) + len(right) - 2)
    while sum(map(len, left)) + sum(map(len, right)) > maxlen - offset and (left or right):
        if sum(map(len, left)) > sum(map(len, right)):
            if len(left[0]) > 1:
                left[0] = left[0][1:]
            else:
                left, offset = left[1:], offset - 4
        else:
            if len(right[-1]) > 1:
                right[-1] = right[-1][:-1]
            else:
                right, offset = right[:-1], offset - 4
    return left, right


def join_segments(tokenizer, segments):
    """Token ids of the segments, four [MASK] standing for each other blank."""
    ids = []
    for i, segment in enumerate(segments):
        if i:
            ids += [tokenizer.token_to_id('[MASK]')] * 4
        ids += tokenizer.encode(segment)[0][1:-1]
    return ids
