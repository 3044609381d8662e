"""content language: the language a response is answered in, and a code prompt's choice

Each existing response gets the language it was shown in until now: the person's language when
the consultation has it, else the consultation's first language (the rule the views followed).
A code prompt keeps the language a resident chose before typing the code from their letter.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-20 10:00:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("code_prompt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    _fill_response_languages()


def _codes(languages: object) -> list[str]:
    """A consultation's languages as stored (JSON, read back as a list or as text)."""
    if isinstance(languages, str):
        languages = json.loads(languages)
    return [c for c in languages if isinstance(c, str)] if isinstance(languages, list) else []


def _fill_response_languages() -> None:
    """Give every existing response the language it was shown in: two updates per consultation."""
    bind = op.get_bind()
    for consultation_id, languages in bind.execute(
        sa.text("SELECT id, languages FROM consultation")
    ).all():
        codes = _codes(languages) or ["nb"]
        bind.execute(
            sa.text(
                "UPDATE response SET language = (SELECT p.language FROM participant p"
                " WHERE p.id = response.participant_id)"
                " WHERE consultation_id = :cid AND participant_id IN"
                " (SELECT id FROM participant WHERE language IN :codes)"
            ).bindparams(sa.bindparam("codes", expanding=True)),
            {"cid": consultation_id, "codes": codes},
        )
        bind.execute(
            sa.text(
                "UPDATE response SET language = :first"
                " WHERE consultation_id = :cid AND language IS NULL"
            ),
            {"cid": consultation_id, "first": codes[0]},
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("code_prompt", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("language")
