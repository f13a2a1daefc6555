"""The event log: append-only, each event chained to the one before by SHA-256.

An event's hash covers a canonical encoding of its id, time, kind, actor, slot,
person, details and the previous event's hash, so editing, deleting,
inserting or reordering any row breaks the chain at that row.

Checkpoints anchor the chain: a daily one records the head (and is printed on
the daily report), so deleting the newest events or rewriting the whole chain
shows against it; a purge one records where a retention purge cut the chain,
so what remains still verifies from there.

The package, one thing a file: :mod:`~locker.log.chain` (encoding, hashing,
appending), :mod:`~locker.log.walk` (the batched walk that checks the chain
against its checkpoints), :mod:`~locker.log.verification` (the whole chain, a
slice, the nightly check from the last verified checkpoint, a printed
checkpoint, the nightly record), :mod:`~locker.log.retention`
(checkpoints and purges) and :mod:`~locker.log.exporter` (CSV and JSON lines);
:mod:`~locker.log.personal` keeps personal values beside the chain (the chain
holds commitments, so a person can be erased and every hash still verifies)
and :mod:`~locker.log.legacy` moved logs written before that over (migration 0006).
"""

from locker.decisions import LogEntry
from locker.log.chain import (
    GENESIS_HASH,
    append,
    canonical_details,
    event_hash,
    format_ts,
    hash_of,
    head,
    parse_ts,
)
from locker.log.exporter import EXPORT_FIELDS, export, export_chunks
from locker.log.retention import checkpoints, purge_before, write_checkpoint
from locker.log.verification import (
    WholeLogCheck,
    last_whole_check,
    paper_mismatch,
    verified_entry,
    verify,
    verify_or_raise,
    verify_range,
    verify_since_checkpoint,
)
from locker.log.walk import VerifyReport

__all__ = [
    "EXPORT_FIELDS",
    "GENESIS_HASH",
    "LogEntry",
    "VerifyReport",
    "WholeLogCheck",
    "append",
    "canonical_details",
    "checkpoints",
    "event_hash",
    "export",
    "export_chunks",
    "format_ts",
    "hash_of",
    "head",
    "last_whole_check",
    "paper_mismatch",
    "parse_ts",
    "purge_before",
    "verified_entry",
    "verify",
    "verify_or_raise",
    "verify_range",
    "verify_since_checkpoint",
    "write_checkpoint",
]
