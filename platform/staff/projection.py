"""The staff projection (inline): every grant and change, and each account's effective role.

Rows of `proj_staff_changes` are what the staff page lists. The account row
(accounts_user.role, is_active) is written here too, in the append's
transaction: the role policy reads the role from the account on every
request (no join on a hot path), and this projection is the only writer of
it in a running county. A rebuild replays the same updates (idempotent);
its comparison covers the listing table.
"""

from __future__ import annotations

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


class StaffChanges(Projection):
    name = "staff_changes"
    inline = True
    tables = ("proj_staff_changes",)
    handles = frozenset({"RoleGrantRequested", "RoleGranted", "RoleGrantDeclined", "RoleRevoked", "AccountDeactivated"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        data = event.data
        at = event.recorded_at
        if event.type == "RoleGrantRequested":
            cursor.execute(
                "INSERT INTO proj_staff_changes (change_id, kind, username, role, requested_by, requested_at, state)"
                " VALUES (%s, 'grant', %s, %s, %s, %s, 'pending')",
                [data["grant_id"], data["username"], data["role"], data["requested_by"], at],
            )
        elif event.type == "RoleGranted":
            cursor.execute(
                "INSERT INTO proj_staff_changes (change_id, kind, username, role, requested_by, requested_at, state,"
                " decided_by, decided_at) VALUES (%s, 'grant', %s, %s, %s, %s, 'granted', %s, %s)"
                " ON CONFLICT (change_id) DO UPDATE SET state = 'granted', decided_by = EXCLUDED.decided_by,"
                " decided_at = EXCLUDED.decided_at",
                [data["grant_id"], data["username"], data["role"], data["requested_by"], at, data["confirmed_by"], at],
            )
            cursor.execute("UPDATE accounts_user SET role = %s WHERE username = %s", [data["role"], data["username"]])
        elif event.type == "RoleGrantDeclined":
            cursor.execute(
                "UPDATE proj_staff_changes SET state = 'declined', decided_by = %s, decided_at = %s WHERE change_id = %s",
                [data["declined_by"], at, data["grant_id"]],
            )
        elif event.type == "RoleRevoked":
            self._change(cursor, event, "revoke", data["role"], data["revoked_by"])
            cursor.execute("UPDATE accounts_user SET role = '' WHERE username = %s", [data["username"]])
        elif event.type == "AccountDeactivated":
            self._change(cursor, event, "deactivate", "", data["deactivated_by"])
            cursor.execute(
                "UPDATE proj_staff_changes SET state = 'lapsed', decided_at = %s"
                " WHERE username = %s AND state = 'pending'",
                [at, data["username"]],
            )
            cursor.execute("UPDATE accounts_user SET is_active = false WHERE username = %s", [data["username"]])

    @staticmethod
    def _change(cursor: Cursor, event: RecordedEvent, kind: str, role: str, by: str) -> None:
        cursor.execute(
            "INSERT INTO proj_staff_changes (change_id, kind, username, role, requested_by, requested_at, state,"
            " decided_by, decided_at) VALUES (%s, %s, %s, %s, %s, %s, 'done', %s, %s)",
            [f"e{event.position}", kind, event.data["username"], role, by, event.recorded_at, by, event.recorded_at],
        )


register(StaffChanges())
