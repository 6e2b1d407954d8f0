"""The ledger package: the only code that writes ``balances``, ``accounts.balance`` and ``ledger``
(tests/unit/test_architecture.py checks it).

- ``posting``: ``post`` and ``post_many`` move money; ``open_account`` opens an account with its balance row.
- ``history``: the read model of the ledger (``history``, keyset cursors).
- ``repair``: the ledger-derived value of a balance, and setting balances from the ledger or the cache.
- ``archive``: moving old entries out of the ledger into the archive (with checkpoints) and back.

Callers use the names re-exported here: ``from economy_app.services import ledger; ledger.post(...)``.
"""

from economy_app.services.ledger.archive import (
    ADVISORY_SPACE,
    Restored,
    archive_entries,
    ledger_sequence_not_behind,
    lock_archive,
    restore_entries,
)
from economy_app.services.ledger.history import (
    Cursor,
    HistoryRow,
    cursor,
    cursor_text,
    history,
    parse_cursor,
)
from economy_app.services.ledger.posting import (
    LEDGER_COLUMNS,
    Posting,
    check_amount,
    key_seen,
    open_account,
    post,
    post_many,
)
from economy_app.services.ledger.repair import (
    ledger_net,
    ledger_value,
    lock_balances,
    set_balances_from_cache,
    set_balances_from_ledger,
)

__all__ = [
    "ADVISORY_SPACE",
    "Cursor",
    "HistoryRow",
    "LEDGER_COLUMNS",
    "Posting",
    "Restored",
    "archive_entries",
    "check_amount",
    "cursor",
    "cursor_text",
    "history",
    "key_seen",
    "ledger_net",
    "ledger_sequence_not_behind",
    "ledger_value",
    "lock_archive",
    "lock_balances",
    "open_account",
    "parse_cursor",
    "post",
    "post_many",
    "restore_entries",
    "set_balances_from_cache",
    "set_balances_from_ledger",
]
