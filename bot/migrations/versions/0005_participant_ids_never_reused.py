"""participant ids are never given twice: an erased person's export key leads to nobody else

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:30:00

Exports name people by a key made from the participant id (models/pseudonym.py). SQLite gave
the id of an erased newest participant to the next newcomer; the table is rebuilt with
AUTOINCREMENT, which never goes back. Every row is copied as it is (``bot.db.upgrade`` runs
migrations with foreign keys off, so rebuilding the table cascades nothing away).

Ids erased before this upgrade cannot be seen any more, but each erasure left a
``participant.erased`` row in the audit log, and ids were handed out one above the highest, so
no id above ``max(id) + erasures`` was ever given: the next id starts above that, on SQLite and
on PostgreSQL (whose sequence is only ever raised here).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _highest_id_ever_given(connection: sa.Connection) -> int:
    highest = connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM participant"))
    erasures = connection.execute(
        sa.text("SELECT count(*) FROM auditlog WHERE action = 'participant.erased'")
    )
    return int(highest.scalar_one()) + int(erasures.scalar_one())


def upgrade() -> None:
    """Apply this revision."""
    connection = op.get_bind()
    floor = _highest_id_ever_given(connection)
    if connection.dialect.name == "sqlite":
        with op.batch_alter_table(
            "participant", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        # Copying the rows set the sequence to max(id); raise it to the floor.
        connection.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :floor WHERE name = 'participant'"),
            {"floor": floor},
        )
        connection.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'participant', :floor "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'participant')"
            ),
            {"floor": floor},
        )
    elif connection.dialect.name == "postgresql" and floor > 0:
        sequence = connection.execute(
            sa.text("SELECT pg_get_serial_sequence('participant', 'id')")
        ).scalar_one()
        last = connection.execute(sa.text(f"SELECT last_value FROM {sequence}")).scalar_one()  # noqa: S608 - a name PostgreSQL gave
        if floor > last:
            connection.execute(
                sa.text("SELECT setval(:seq, :floor)"), {"seq": sequence, "floor": floor}
            )


def downgrade() -> None:
    """Revert this revision: ids may be given twice again on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "participant", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
