"""``python -m gancore.batch``: the batch runner's command line (see gancore.batch.cli)."""
import sys

from gancore.batch.cli import main

if __name__ == "__main__":
    sys.exit(main())
