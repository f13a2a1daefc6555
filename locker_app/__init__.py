"""The composition root: the one package that knows every layer.

``locker`` (the core: rules, storage, the log), ``hardware`` (pins and the
reader) and ``web`` (the panel) never import each other upward; this package
puts them together, as Klipper's ``klippy.py`` and Moonraker's ``server.py``
build their worlds:

- :mod:`locker_app.cli`: the ``locker`` command;
- :mod:`locker_app.service`: the daemon on its backend, with its clock, signals,
  doorbell and systemd's notify socket;
- :mod:`locker_app.probes`: the doctor's hardware probes.
"""
