"""Run a test tier on a venv, time it, and keep the figure in a small Markdown table
(docs/test-times.md by default; the README links it), so that suite and CI times come
from a measurement, not from hand edits.

    python3 benchmarks/test_tiers.py --venv .venv --tier quick
    python3 benchmarks/test_tiers.py --venv .venv-tf2 --tier full
    python3 benchmarks/test_tiers.py --row "CI, fresh clone" --seconds 1500   # a time measured elsewhere

The exit code is pytest's. Python 3.7 or newer, no third-party package.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = ('| what | stack | tests | wall time | measured |', '|---|---|---|---|---|')


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), cpu)
    except OSError:
        pass
    return '%d cores (%s), %s' % (os.cpu_count() or 0, cpu, platform.system())


def stack_of(python):
    code = ('import tensorflow as tf, platform; '
            'print("Python %s, TensorFlow %s" % (platform.python_version(), tf.__version__))')
    result = subprocess.run([python, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    return result.stdout.decode().strip() or os.path.basename(os.path.dirname(os.path.dirname(python)))


def run_tier(python, tier):
    """(pytest's exit code, its closing counts, seconds); pytest's output passes through."""
    command = [python, '-m', 'pytest', '-q', '-rs'] + (['--full'] if tier == 'full' else [])
    started = time.time()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    closing = ''
    for raw in process.stdout:
        line = raw.decode('utf-8', 'replace')
        sys.stdout.write(line)
        sys.stdout.flush()
        if re.search(r'\d+ (passed|failed)', line):
            closing = re.sub(r' in [\d.]+s.*$', '', line.strip().strip('= '))
    return process.wait(), closing, time.time() - started


def minutes(seconds):
    return '%d min %02d s' % divmod(int(round(seconds)), 60)


def keep_row(path, key, row):
    """Replace the table's row for ``key`` (its first two cells), or add it."""
    lines = []
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    if not lines:
        lines = ['# Test and CI times', '',
                 'Written by `benchmarks/test_tiers.py`; each row is its latest measurement.',
                 'Machine: %s.' % machine(), ''] + list(HEADER)
    rows = [line for line in lines if line.startswith('| ') and not line.startswith(HEADER[0])
            and not line.startswith('|---')]
    rows = [r for r in rows if [c.strip() for c in r.strip('|').split('|')][:2] != list(key)] + [row]
    body = [line for line in lines if not line.startswith('|')]
    while body and not body[-1].strip():
        body.pop()
    with open(path + '.partial', 'w', encoding='utf-8') as f:
        f.write('\n'.join(body + [''] + list(HEADER) + sorted(rows)) + '\n')
    os.replace(path + '.partial', path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--venv', default='.venv')
    parser.add_argument('--tier', choices=('quick', 'full'), default='quick')
    parser.add_argument('--row', help='record a time measured elsewhere under this name (with --seconds)')
    parser.add_argument('--seconds', type=float)
    parser.add_argument('--output', default=os.path.join(ROOT, 'docs', 'test-times.md'))
    args = parser.parse_args()
    today = time.strftime('%Y-%m-%d')
    if args.row:
        if args.seconds is None:
            parser.error('--row needs --seconds')
        keep_row(args.output, (args.row, '-'), '| %s | - | - | %s | %s |' % (args.row, minutes(args.seconds), today))
        return 0
    python = os.path.join(ROOT, args.venv, 'bin', 'python')
    stack = stack_of(python)
    code, closing, seconds = run_tier(python, args.tier)
    what = '%s tier' % args.tier
    keep_row(args.output, (what, stack), '| %s | %s | %s | %s | %s |' % (
        what, stack, closing or 'exit %d' % code, minutes(seconds), today))
    print('%s on %s: %s in %s' % (what, stack, closing, minutes(seconds)))
    return code


if __name__ == '__main__':
    sys.exit(main())
