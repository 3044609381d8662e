"""web channel: the participant's channel, web chats and their forms, one-time codes

Every participant so far came through Telegram: the new ``channel`` column says so for each
existing row (its server default), so no row changes otherwise.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:09:45.939832
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = models.base.UTCDateTime


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel", sa.String(length=16), server_default="telegram", nullable=False
            )
        )
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("access", sa.String(length=8), server_default="open", nullable=False)
        )

    op.create_table(
        "web_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("poll", sa.JSON(), nullable=True),
        sa.Column("file_name", AutoString(length=120), nullable=True),
        sa.Column("file_type", AutoString(length=80), nullable=True),
        sa.Column("file_content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_message_chat", "web_message", ["chat_id", "id"])

    op.create_table(
        "web_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "nonce", name="uq_web_request_nonce"),
    )
    op.create_index("ix_web_request_created_at", "web_request", ["created_at"])

    op.create_table(
        "access_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_access_code_consultation_id", "access_code", ["consultation_id"])

    op.create_table(
        "code_prompt",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(length=64), nullable=True),
        sa.Column("asked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("code_prompt")
    op.drop_index("ix_access_code_consultation_id", table_name="access_code")
    op.drop_table("access_code")
    op.drop_index("ix_web_request_created_at", table_name="web_request")
    op.drop_table("web_request")
    op.drop_index("ix_web_message_chat", table_name="web_message")
    op.drop_table("web_message")
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.drop_column("access")
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("channel")
