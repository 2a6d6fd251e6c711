"""Small data sets in the exact file formats of the eleven CLUE tasks (file names,
field names, label sets, blank tags, entity spans), for the tests and the demo.

The texts are random strings of common characters: the files exercise every code
path of a task but carry no meaning.
"""
import json
import os

import numpy as np

from fl_tuning.tasks import NLI_LABELS, TNEWS_LABELS

# Common Chinese characters (enough for the bundled demo data) and a few wordpieces.
TINY_CHARACTERS = (
    '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学'
    '对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面'
    '公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部'
    '正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关'
    '并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安'
    '表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共'
    '风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管'
    '夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品'
    '士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研'
    '像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济'
    '喜离虽坏兴照银险价格类款费借钟句您吗啊吧哦嗯球赛票游戏歌曲电影旅游股票基金贷还款花呗借呗余额'
    '蚂蚁支付宝账户手机号码密码登录注册充值提现额度利息逾期申请审核通过成功失败取消关闭开通使用'
    '星乐演节冠育足篮跑泳'
)
CHARACTERS = list(dict.fromkeys(TINY_CHARACTERS))
CLUENER_CATEGORIES = ['address', 'book', 'company', 'game', 'government', 'movie', 'name',
                      'organization', 'position', 'scene']


class Writer(object):
    def __init__(self, data_dir, seed):
        self.data_dir = data_dir
        self.rng = np.random.RandomState(seed)

    def text(self, low=6, high=20):
        return ''.join(self.rng.choice(CHARACTERS, size=self.rng.randint(low, high + 1)))

    def choice(self, options):
        return options[self.rng.randint(len(options))]

    def path(self, task, name):
        folder = os.path.join(self.data_dir, task)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        return os.path.join(folder, name)

    def json_lines(self, task, name, records):
        with open(self.path(task, name), 'w', encoding='utf-8') as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + '\n')

    def json(self, task, name, value):
        with open(self.path(task, name), 'w', encoding='utf-8') as f:
            json.dump(value, f, ensure_ascii=False)


def split_sizes(counts):
    return list(zip(('train', 'dev', 'test'), counts))


def write_classification(w, task, record, counts, train_name='train.json',
                         test_names=('test.json',)):
    """``record(i, labelled)`` makes one line; test lines carry an ``id``."""
    train, dev, test = counts
    w.json_lines(task, train_name, [record(i, True) for i in range(train)])
    w.json_lines(task, 'dev.json', [record(i, True) for i in range(dev)])
    for name in test_names:
        w.json_lines(task, name, [dict(record(i, False), id=i) for i in range(test)])


def afqmc(w, counts):
    def record(i, labelled):
        r = {'sentence1': w.text(), 'sentence2': w.text()}
        if labelled:
            r['label'] = str(i % 2)
        return r
    write_classification(w, 'afqmc', record, counts)


def tnews(w, counts):
    def record(i, labelled):
        label = TNEWS_LABELS[i % len(TNEWS_LABELS)]
        r = {'sentence': w.text(), 'keywords': w.text(2, 4)}
        if labelled:
            r.update(label=label, label_desc='news_%s' % label)
        return r
    write_classification(w, 'tnews', record, counts, test_names=('test1.0.json', 'test.json'))


def iflytek(w, counts):
    def record(i, labelled):
        r = {'sentence': w.text(10, 40)}
        if labelled:
            r.update(label=str(i * 7 % 119), label_des='app_%d' % (i * 7 % 119))
        return r
    write_classification(w, 'iflytek', record, counts)


def nli(task, train_name):
    def write(w, counts):
        def record(i, labelled):
            r = {'sentence1': w.text(), 'sentence2': w.text()}
            if labelled:
                # every fifth line has the unlabelled '-' the original drops
                r['label'] = '-' if i % 5 == 4 else NLI_LABELS[i % 3]
            return r
        write_classification(w, task, record, counts, train_name=train_name)
    return write


def wsc(w, counts):
    def record(i, labelled):
        text = w.text(16, 24)
        span1, span2 = (1, 2), (8, 1)
        if i % 2:
            span1, span2 = span2, span1
        r = {'text': text, 'target': {
            'span1_index': span1[0], 'span1_text': text[span1[0]:sum(span1)],
            'span2_index': span2[0], 'span2_text': text[span2[0]:sum(span2)]}, 'idx': i}
        if labelled:
            r['label'] = 'true' if i % 2 else 'false'
        return r
    write_classification(w, 'wsc', record, counts, test_names=('test1.0.json', 'test.json'))


def csl(w, counts):
    def record(i, labelled):
        r = {'abst': w.text(20, 60), 'keyword': [w.text(2, 4) for _ in range(3)]}
        if labelled:
            r['label'] = str(i % 2)
        return r
    write_classification(w, 'csl', record, counts)


def c3(w, counts):
    def documents(count, labelled, prefix):
        result = []
        for i in range(count):
            choices = [w.text(2, 5) for _ in range(2 + i % 3)]  # 2 to 4 choices
            question = {'question': w.text(4, 8), 'choice': choices, 'id': '%s-%d' % (prefix, i)}
            if labelled:
                question['answer'] = choices[i % len(choices)]
            result.append([[w.text(20, 40), w.text(10, 20)], [question], '%s-%d' % (prefix, i)])
        return result
    train, dev, test = counts
    for kind in ('m', 'd'):
        w.json('c3', '%s-train.json' % kind, documents(train // 2, True, kind + 'train'))
        w.json('c3', '%s-dev.json' % kind, documents(dev // 2, True, kind + 'dev'))
    for name in ('test1.0.json', 'test1.1.json'):
        w.json('c3', name, documents(test, False, name))


def chid(w, counts):
    tag = [0]

    def line(answers):
        idioms = [w.text(4, 4) for _ in range(10)]
        passages = []
        for _ in range(2):
            pieces = [w.text(5, 30)]
            for _ in range(1 + w.rng.randint(2)):
                tag[0] += 1
                name = '#idiom%06d#' % tag[0]
                answers[name] = int(w.rng.randint(10))
                pieces += [name, w.text(0, 30)]
            passages.append(''.join(pieces))
        return {'candidates': idioms, 'content': passages}

    for split, count in split_sizes(counts):
        answers = {}
        lines = [line(answers) for _ in range(count)]
        if split == 'test':
            for name in ('test1.0.json', 'test1.1.json'):
                w.json_lines('chid', name, lines)
        else:
            w.json_lines('chid', '%s.json' % split, lines)
            w.json('chid', '%s_answer.json' % split, answers)


def cmrc2018(w, counts):
    def data(count, answers_per_question, prefix):
        paragraphs = []
        for i in range(count):
            context = w.text(60, 700)  # long contexts give several windows
            qas = []
            for j in range(2):
                answers = []
                for _ in range(answers_per_question):
                    start = int(w.rng.randint(len(context) - 6))
                    answers.append({'text': context[start:start + 1 + w.rng.randint(5)],
                                    'answer_start': start})
                qa = {'id': '%s_%d_%d' % (prefix, i, j), 'question': w.text(5, 15)}
                if answers:
                    qa['answers'] = answers
                qas.append(qa)
            paragraphs.append({'id': '%s_%d' % (prefix, i), 'context': context, 'qas': qas})
        return {'version': 'v1.0', 'data': [{'id': prefix, 'title': w.text(3, 6),
                                             'paragraphs': paragraphs}]}
    train, dev, test = counts
    w.json('cmrc2018', 'train.json', data(train, 1, 'TRAIN'))
    w.json('cmrc2018', 'dev.json', data(dev, 3, 'DEV'))
    w.json('cmrc2018', 'test.json', data(test, 0, 'TEST'))


def cluener(w, counts):
    def record(i, labelled):
        text = w.text(15, 40)
        r = {'text': text}
        if labelled:
            labels = {}
            for k in range(1 + i % 3):
                start = int(w.rng.randint(len(text) - 4))
                end = start + int(w.rng.randint(4))
                category = CLUENER_CATEGORIES[(i + k) % len(CLUENER_CATEGORIES)]
                labels.setdefault(category, {}).setdefault(text[start:end + 1], []).append([start, end])
            r['label'] = labels
        return r
    write_classification(w, 'cluener', record, counts)


WRITERS = {
    'afqmc': afqmc, 'tnews': tnews, 'iflytek': iflytek, 'ocnli': nli('ocnli', 'train.50k.json'),
    'cmnli': nli('cmnli', 'train.json'), 'wsc': wsc, 'csl': csl, 'c3': c3, 'chid': chid,
    'cmrc2018': cmrc2018, 'cluener': cluener,
}


def write_clue_fixtures(data_dir, tasks=None, counts=(8, 6, 4), seed=0):
    """Write ``counts`` = (train, dev, test) examples of each task under ``data_dir``."""
    w = Writer(data_dir, seed)
    for task in tasks or WRITERS:
        WRITERS[task](w, counts)
    return data_dir


# The bundled demo: tnews-format news titles in three topics, told apart by their words.
DEMO_TOPICS = [
    ('102', 'news_entertainment', u'电影歌曲明星影视音乐演出节目笑声花香'),
    ('103', 'news_sports', u'球赛队冠军比赛体育足篮运动场跑步游泳'),
    ('104', 'news_finance', u'股票基金银行利息贷款市场价格资金钱额'),
]


def write_demo_data(data_dir, counts=(600, 90, 30), seed=0):
    """tnews files (train, dev, test1.0, test) for the demo in ``data_dir``."""
    w = Writer(data_dir, seed)

    def record(i, labelled):
        label, description, words = DEMO_TOPICS[i % len(DEMO_TOPICS)]
        title = list(w.rng.choice(list(words), size=6)) + list(w.rng.choice(CHARACTERS, size=6))
        w.rng.shuffle(title)
        r = {'sentence': ''.join(title), 'keywords': ''}
        if labelled:
            r.update(label=label, label_desc=description)
        return r
    write_classification(w, 'tnews', record, counts, test_names=('test1.0.json', 'test.json'))
    return data_dir
