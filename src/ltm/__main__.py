"""``python -m ltm ...`` works like the ``ltm`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="ltm")
