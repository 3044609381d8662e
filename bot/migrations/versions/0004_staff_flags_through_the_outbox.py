"""staff get flagged texts through the outbox: deliveries to a chat, flags handled

A delivery goes to a participant, or (for staff, who need not be participants) to a chat:
``delivery.participant_id`` becomes nullable and ``delivery.chat_id`` holds the chat. A text a
moderator flagged records the staff member who dealt with it (``moderation_item.handled_by``,
``handled_at``). Every existing row is kept as it is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:09:04.518303
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.alter_column("participant_id", existing_type=sa.Integer(), nullable=True)

    with op.batch_alter_table("moderation_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("handled_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision (messages to staff chats are dropped: they have no participant)."""
    with op.batch_alter_table("moderation_item", schema=None) as batch_op:
        batch_op.drop_column("handled_at")
        batch_op.drop_column("handled_by")

    op.execute("DELETE FROM delivery WHERE participant_id IS NULL")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("participant_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("chat_id")
