"""volunteering: centres and coordinators, volunteer profiles, needs and sign-ups

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:22:48.558753

New tables only (docs/volunteering.md): the volunteer centres of the centres file, the
coordinators tied to them, residents' volunteer profiles and their choices, the centres' needs
and each volunteer's invitation and answer. No existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = models.base.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "centre",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("district", sa.String(length=60), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "coordinator",
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("weekly_cap", sa.Integer(), nullable=True),
        sa.Column("granted_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id"),
    )
    op.create_table(
        "coordinator_centre",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"], ["coordinator.telegram_user_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_user_id", "centre_id"),
    )
    with op.batch_alter_table("coordinator_centre", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coordinator_centre_telegram_user_id"), ["telegram_user_id"]
        )

    op.create_table(
        "need",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("batch_of", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_language", _text(5), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=True),
        sa.Column("language", _text(5), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("district", _text(60), nullable=True),
        sa.Column("starts_at", UTC, nullable=True),
        sa.Column("ends_at", UTC, nullable=True),
        sa.Column("weekly", sa.Boolean(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=True),
        sa.Column("wished_language", _text(8), nullable=True),
        sa.Column("invited", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("published_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["batch_of"], ["need.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_need_batch_of"), ["batch_of"])
        batch_op.create_index("ix_need_centre_state", ["centre_id", "state"])
        batch_op.create_index(batch_op.f("ix_need_created_by"), ["created_by"])

    op.create_table(
        "volunteer_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id"),
    )
    op.create_table(
        "volunteer_choice",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["volunteer_profile.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("profile_id", "kind", "value"),
    )
    with op.batch_alter_table("volunteer_choice", schema=None) as batch_op:
        batch_op.create_index("ix_volunteer_choice_kind_value", ["kind", "value", "profile_id"])

    op.create_table(
        "volunteer_signup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("invited_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("waiting_since", UTC, nullable=True),
        sa.Column("withdrawn_at", UTC, nullable=True),
        sa.Column("first_at", UTC, nullable=True),
        sa.Column("contact_name", _text(64), nullable=True),
        sa.Column("contact_username", _text(40), nullable=True),
        sa.Column("contact_phone", _text(24), nullable=True),
        sa.Column("contact_shared_at", UTC, nullable=True),
        sa.Column("phone_asked_at", UTC, nullable=True),
        sa.Column("feedback", _text(8), nullable=True),
        sa.Column("feedback_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("need_id", "participant_id"),
    )
    with op.batch_alter_table("volunteer_signup", schema=None) as batch_op:
        batch_op.create_index(
            "ix_volunteer_signup_participant_invited", ["participant_id", "invited_at"]
        )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("volunteer_signup")
    op.drop_table("volunteer_choice")
    op.drop_table("volunteer_profile")
    op.drop_table("need")
    op.drop_table("coordinator_centre")
    op.drop_table("coordinator")
    op.drop_table("centre")
