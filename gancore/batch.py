"""``python -m gancore.batch``: the batch runner's command line (see gancore.workbook.batch)."""
from gancore.workbook.batch import main

if __name__ == "__main__":
    raise SystemExit(main())
