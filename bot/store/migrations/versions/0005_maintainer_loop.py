"""The maintainer's loop: the maintainer role, visitors' ratings, review decisions and model deployments.

Revision ID: 0005
Revises: 0004
Created: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members") as batch:
        batch.add_column(sa.Column("is_maintainer", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "message_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down')", name="ck_message_ratings_rating"),
        sa.PrimaryKeyConstraint("id", name="pk_message_ratings"),
    )
    op.create_index("uq_message_ratings_message", "message_ratings", ["conversation_id", "client_id"], unique=True)
    op.create_index("ix_message_ratings_rated_at", "message_ratings", ["rated_at"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_at", sa.DateTime(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("crisis_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("decision IN ('correct', 'relabel', 'ignore')", name="ck_review_decisions_decision"),
        sa.ForeignKeyConstraint(["crisis_confirmed_by"], ["staff_members.id"],
                                name="fk_review_decisions_crisis_confirmed_by_staff_members"),
        sa.ForeignKeyConstraint(["decided_by"], ["staff_members.id"],
                                name="fk_review_decisions_decided_by_staff_members"),
        sa.PrimaryKeyConstraint("id", name="pk_review_decisions"),
    )
    op.create_index("uq_review_decisions_message", "review_decisions", ["conversation_id", "event_id"], unique=True)
    op.create_index("ix_review_decisions_message_at", "review_decisions", ["message_at"])
    op.create_table(
        "model_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("previous_model", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("deployed_by", sa.String(length=100), nullable=False),
        sa.Column("deployed_at", sa.DateTime(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("evaluation", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('deploy', 'rollback')", name="ck_model_deployments_kind"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name="fk_model_deployments_staff_id_staff_members"),
        sa.PrimaryKeyConstraint("id", name="pk_model_deployments"),
    )
    op.create_index("ix_model_deployments_deployed_at", "model_deployments", ["deployed_at"])


def downgrade() -> None:
    op.drop_index("ix_model_deployments_deployed_at", table_name="model_deployments")
    op.drop_table("model_deployments")
    op.drop_index("ix_review_decisions_message_at", table_name="review_decisions")
    op.drop_index("uq_review_decisions_message", table_name="review_decisions")
    op.drop_table("review_decisions")
    op.drop_index("ix_message_ratings_rated_at", table_name="message_ratings")
    op.drop_index("uq_message_ratings_message", table_name="message_ratings")
    op.drop_table("message_ratings")
    with op.batch_alter_table("staff_members") as batch:
        batch.drop_column("is_maintainer")
