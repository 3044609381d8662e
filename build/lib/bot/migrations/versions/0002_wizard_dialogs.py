"""wizard dialogs: where staff are in a multi-step dialog moves out of the draft tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 13:22:40.137238

The ``step`` of broadcast, event and outcome drafts becomes a ``dialog`` row of the wizard
engine (handlers/wizard.py); every draft that was waiting at a step keeps waiting there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The wizard that composes each draft table (the names in handlers/wizards/).
WIZARDS = {"broadcast": "broadcast", "event": "event", "outcome": "outcome"}


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dialog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("wizard", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("trail", sqlmodel.sql.sqltypes.AutoString(length=240), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wizard", "subject_id", name="uq_dialog_wizard_subject"),
    )
    with op.batch_alter_table("dialog", schema=None) as batch_op:
        batch_op.create_index("ix_dialog_user_updated", ["user_id", "updated_at"], unique=False)
    for table, wizard in WIZARDS.items():
        # A draft whose author was erased has no one to continue it: it keeps no dialog.
        op.execute(
            sa.text(
                "INSERT INTO dialog (user_id, chat_id, wizard, subject_id, step, trail, updated_at) "
                f"SELECT created_by, chat_id, :wizard, id, step, '', updated_at FROM {table} "  # noqa: S608
                "WHERE state = 'draft' AND step IS NOT NULL "
                "AND created_by IS NOT NULL AND chat_id IS NOT NULL"
            ).bindparams(wizard=wizard)
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("step")


def downgrade() -> None:
    """Revert this revision: each draft gets its dialog's step back."""
    for table, wizard in WIZARDS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
            )
        op.execute(
            sa.text(
                f"UPDATE {table} SET step = (SELECT substr(step, 1, 16) FROM dialog "  # noqa: S608
                f"WHERE dialog.wizard = :wizard AND dialog.subject_id = {table}.id)"
            ).bindparams(wizard=wizard)
        )
    with op.batch_alter_table("dialog", schema=None) as batch_op:
        batch_op.drop_index("ix_dialog_user_updated")
    op.drop_table("dialog")
