"""iflytek with FL-tuning on bert, as the original's FL-Tuning-BERT/iflytek.py; --help lists the flags."""
import sys

from fl_tuning.cli import task_script_main

if __name__ == '__main__':
    sys.exit(task_script_main(__file__))
