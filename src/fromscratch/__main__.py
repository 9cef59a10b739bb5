"""`python -m fromscratch` is the same as the `fromscratch` command."""

import sys

from fromscratch.cli import main

sys.exit(main())
