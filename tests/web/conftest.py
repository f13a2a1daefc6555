"""The panel's fixtures (``tests/support/panel_fixtures.py``), shared with ``tests/reliability``."""

from tests.support.panel_fixtures import (  # noqa: F401 - pytest finds fixtures by name here
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
