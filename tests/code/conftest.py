"""Make the code-reuse test utilities (obfuscate.py, realcode.py) importable by plain name."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
