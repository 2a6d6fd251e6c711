"""Realistic CMRC 2018 predictions for checking a scorer: for each question of a
SQuAD-style dev document, by its position, the answer itself, none, an empty text,
other case and punctuation, a substring, a superstring cut from the context, added
decimals and English words, a wrong span, the answer in book-title marks."""


def predictions(document):
    """{question id: text} (some questions left out, as unanswered)."""
    result, index = {}, 0
    for article in document['data']:
        for paragraph in article['paragraphs']:
            context = paragraph['context']
            for qa in paragraph['qas']:
                answer = qa['answers'][0]
                text, start = answer['text'], answer['answer_start']
                kind = index % 10
                index += 1
                if kind == 1:
                    continue  # unanswered
                result[qa['id']] = {
                    0: text,
                    2: '',
                    3: text.upper() + u'。',
                    4: text[:max(1, len(text) // 2)],
                    5: context[max(0, start - 3):start + len(text) + 3],
                    6: text + u' 3.4米 (2.5%)',
                    7: context[:5],
                    8: text + u' Olympic Games, U.S.A. isn\'t "new"',
                    9: u'《%s》' % text,
                }[kind]
    return result
