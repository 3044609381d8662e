"""answers counted from one index: (question_id, skipped, number) replaces (question_id)

Results count answers, skips and scale values per question; with the wider index they read the
index alone, about 40 % faster on SQLite with a million answers (docs/benchmarks.md). It
replaces the index on question_id, which is its prefix, so answers still have the same number of
indexes to keep up.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:49:31.547676
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # The new index first: the old one serves queries until the new one is there.
    op.create_index(
        "ix_answer_question_skipped_number",
        "answer",
        ["question_id", "skipped", "number"],
        unique=False,
    )
    op.drop_index("ix_answer_question_id", table_name="answer")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_answer_question_id", "answer", ["question_id"], unique=False)
    op.drop_index("ix_answer_question_skipped_number", table_name="answer")
