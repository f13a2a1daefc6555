"""``python -m locker``: the same as the ``locker`` command."""

from locker.cli import main

main()
