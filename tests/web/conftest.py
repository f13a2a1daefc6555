"""The panel's fixtures (``tests/web/fixtures.py``), shared with ``tests/reliability``."""

from tests.web.fixtures import (  # noqa: F401 - pytest finds fixtures by name here
    accounts,
    app,
    auth,
    cheap_password_hashes,
    client,
    clock,
    config,
    daemon,
    db,
    people,
    quick_app,
    runner,
    token,
    world,
)
