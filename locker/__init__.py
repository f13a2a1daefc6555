"""nursery-locker: the controller core.

Config, storage, the custody rules, the hash-chained event log and the command
line. Nothing in this package touches GPIO, SPI or Flask.
"""

__version__ = "0.1.0"
