"""`python -m echoformer.export FORMAT MODEL_DIR OUT`: see `echoformer.export`."""

import sys

from echoformer.export import main

sys.exit(main())
