"""The command line's argument types (argparse ``type=`` callables)."""
import argparse


def count(minimum):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a whole number' % text)
        if value < minimum:
            raise argparse.ArgumentTypeError('%d is below %d' % (value, minimum))
        return value
    return parse


def positive_number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % text)
    if value <= 0:
        raise argparse.ArgumentTypeError('%s is not above 0' % text)
    return value


def file_names(text):
    """An argparse type: a comma-separated list of file names."""
    names = [name.strip() for name in text.split(',') if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError('no file name in %r' % text)
    return names


def backbone_dir(text):
    """An argparse type: NAME=MODEL_DIR."""
    name, _, directory = text.partition('=')
    if not name or not directory:
        raise argparse.ArgumentTypeError('expected NAME=MODEL_DIR, e.g. bert=chinese_roberta_wwm_ext, got %r' % text)
    return name, directory


def named_file(text):
    name, _, path = text.partition('=')
    if not name or not path:
        raise argparse.ArgumentTypeError('expected NAME=FILE, e.g. hf=results.csv, got %r' % text)
    return name, path


def comma_list(kind=str):
    def parse(text):
        try:
            return [kind(item.strip()) for item in text.split(',') if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a comma-separated list of %s' % (text, kind.__name__))
    return parse
