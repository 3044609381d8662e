"""background questions, population figures and focus groups drawn by lot

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:19:01.043852

New tables only (issue #19): the background questions and residents' answers to them
(``profile_*``), the population to compare with (``population_cell``), and focus groups with the
people drawn for them (``focus_group``, ``focus_member``). Nothing existing changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, models.base.UTCDateTime(timezone=True), nullable=nullable)


def _key(name: str, table: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
        nullable=nullable,
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "profile_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "profile_option",
        sa.Column("id", sa.Integer(), nullable=False),
        _key("question_id", "profile_question"),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "key"),
    )
    op.create_table(
        "profile_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        _key("participant_id", "participant"),
        _key("question_id", "profile_question"),
        _key("option_id", "profile_option", nullable=True),  # none: "prefer not to say"
        _at("answered_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "question_id"),
    )
    op.create_table(
        "profile_prompt",
        sa.Column(
            "participant_id",
            sa.Integer(),
            sa.ForeignKey("participant.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _at("offered_at"),
        _at("declined_at", nullable=True),
        sa.PrimaryKeyConstraint("participant_id"),
    )
    op.create_table(
        "population_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dimensions", sa.String(length=200), nullable=False),
        sa.Column("cell", sa.String(length=400), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        _at("imported_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dimensions", "cell"),
    )
    op.create_table(
        "focus_group",
        sa.Column("id", sa.Integer(), nullable=False),
        _key("arena_id", "arena"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_language", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        _at("starts_at", nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("quotas", sa.JSON(), nullable=True),
        sa.Column("pool", sa.JSON(), nullable=True),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("drawn_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "focus_member",
        sa.Column("id", sa.Integer(), nullable=False),
        _key("focus_group_id", "focus_group"),
        _key("participant_id", "participant"),
        sa.Column("stratum", sa.String(length=300), nullable=False),
        sa.Column("lottery_key", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("replacement", sa.Boolean(), nullable=False),
        _at("invited_at"),
        _at("answered_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("focus_group_id", "participant_id"),
    )
    indexes = {
        "profile_option": [("ix_profile_option_question_id", ["question_id"])],
        "profile_answer": [
            ("ix_profile_answer_option_id", ["option_id"]),
            ("ix_profile_answer_question_id", ["question_id"]),
        ],
        "population_cell": [("ix_population_cell_dimensions", ["dimensions"])],
        "focus_group": [
            ("ix_focus_group_arena_id", ["arena_id"]),
            ("ix_focus_group_creator_state", ["created_by", "state"]),
        ],
        "focus_member": [
            ("ix_focus_member_focus_group_id", ["focus_group_id"]),
            ("ix_focus_member_participant_id", ["participant_id"]),
        ],
    }
    for table, wanted in indexes.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in wanted:
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    """Revert this revision: the tables go, and everything in them."""
    for table in (
        "focus_member",
        "focus_group",
        "population_cell",
        "profile_prompt",
        "profile_answer",
        "profile_option",
        "profile_question",
    ):
        op.drop_table(table)
