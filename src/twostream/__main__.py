"""``python -m twostream``: the same as the ``twostream`` command."""

import sys

from twostream.cli import main

sys.exit(main())
