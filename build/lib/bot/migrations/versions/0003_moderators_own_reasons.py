"""moderators' own reasons: a rejection "for another reason" keeps the moderator's words

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 13:32:32.450043
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("moderation_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("moderation_item", schema=None) as batch_op:
        batch_op.drop_column("note")
