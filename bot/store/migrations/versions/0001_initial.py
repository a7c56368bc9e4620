"""Initial schema: staff, handoffs, transitions, notes, canned replies, callbacks, audit log.

Revision ID: 0001
Revises:
Created: 2026-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN_HANDOFF = sa.text("status IN ('waiting', 'active')")


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("presence", sa.String(10), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("presence IN ('online', 'away', 'offline')", name=op.f("ck_staff_members_presence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_members_email")),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("last_intent", sa.String(100), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("last_visitor_message", sa.String(140), nullable=True),
        sa.CheckConstraint("priority IN ('urgent', 'normal')", name=op.f("ck_handoffs_priority")),
        sa.CheckConstraint("status IN ('waiting', 'active', 'resolved', 'expired')", name=op.f("ck_handoffs_status")),
        sa.ForeignKeyConstraint(["assigned_to"], ["staff_members.id"],
                                name=op.f("fk_handoffs_assigned_to_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index("uq_handoffs_open_conversation", "handoffs", ["conversation_id"], unique=True,
                    sqlite_where=OPEN_HANDOFF, postgresql_where=OPEN_HANDOFF)
    op.create_index("ix_handoffs_status_created_at", "handoffs", ["status", "created_at"])
    op.create_table(
        "handoff_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(10), nullable=True),
        sa.Column("to_status", sa.String(10), nullable=False),
        sa.Column("actor", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("to_status IN ('waiting', 'active', 'resolved', 'expired')",
                           name=op.f("ck_handoff_transitions_to_status")),
        sa.CheckConstraint("from_status IS NULL OR from_status IN ('waiting', 'active', 'resolved', 'expired')",
                           name=op.f("ck_handoff_transitions_from_status")),
        sa.ForeignKeyConstraint(["actor"], ["staff_members.id"],
                                name=op.f("fk_handoff_transitions_actor_staff_members")),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"],
                                name=op.f("fk_handoff_transitions_handoff_id_handoffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_transitions")),
    )
    op.create_index(op.f("ix_handoff_transitions_handoff_id"), "handoff_transitions", ["handoff_id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], name=op.f("fk_notes_handoff_id_handoffs")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f("fk_notes_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_conversation_id"), "notes", ["conversation_id"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["staff_members.id"],
                                name=op.f("fk_canned_replies_created_by_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("first_name_enc", sa.Text(), nullable=False),
        sa.Column("contact_enc", sa.Text(), nullable=False),
        sa.Column("best_time_enc", sa.Text(), nullable=False),
        sa.Column("consented_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_callback_requests_status")),
        sa.ForeignKeyConstraint(["closed_by"], ["staff_members.id"],
                                name=op.f("fk_callback_requests_closed_by_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    op.create_index("ix_callback_requests_status_created_at", "callback_requests", ["status", "created_at"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"],
                                name=op.f("fk_audit_entries_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(op.f("ix_audit_entries_at"), "audit_entries", ["at"])
    op.create_index(op.f("ix_audit_entries_conversation_id"), "audit_entries", ["conversation_id"])


def downgrade() -> None:
    # Children before the tables they point to.
    for table in ("audit_entries", "callback_requests", "canned_replies", "notes", "handoff_transitions",
                  "handoffs", "staff_members"):
        op.drop_table(table)
