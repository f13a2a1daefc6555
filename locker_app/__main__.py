"""``python -m locker_app``: the same as the ``locker`` command."""

from locker_app.cli import main

main()
