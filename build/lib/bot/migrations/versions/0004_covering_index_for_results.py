"""results read a covering index on answer (question_id, skipped, number)

The results count answers per question, the skips of optional questions and the values of
scale questions; with this index they read the index alone, never the answer rows. It replaces
the index on question_id alone, which is its first column. Every row is kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:26:39.472942
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: the new index first, so lookups by question always have one."""
    op.create_index(
        "ix_answer_question_skipped_number", "answer", ["question_id", "skipped", "number"]
    )
    op.drop_index("ix_answer_question_id", table_name="answer")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_answer_question_id", "answer", ["question_id"])
    op.drop_index("ix_answer_question_skipped_number", table_name="answer")
