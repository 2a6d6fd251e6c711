import sys

from fl_tuning.cli import main

sys.exit(main())
