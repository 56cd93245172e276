"""Evaluations (a recipe over a data set; each item a recorded run) and per-candidate
artifacts (e.g. the program a candidate ran and what it printed).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("ttc_candidates") as batch:
        batch.add_column(sa.Column("artifacts", sa.Text, nullable=True))
    op.create_table(
        "ttc_evals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("recipe_name", sa.String(200), nullable=False),
        sa.Column("recipe_text", sa.Text, nullable=False),
        sa.Column("recipe_hash", sa.String(64), nullable=False),
        sa.Column("recipe_source", sa.Text, nullable=False),
        sa.Column("dataset", sa.String(500), nullable=False),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("options", sa.Text),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.Column("wall_time", sa.Float, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
    )
    op.create_index("ix_ttc_evals_recipe_name", "ttc_evals", ["recipe_name"])
    op.create_index("ix_ttc_evals_dataset", "ttc_evals", ["dataset"])
    op.create_index("ix_ttc_evals_key", "ttc_evals", ["key"])
    op.create_index("ix_ttc_evals_status", "ttc_evals", ["status"])
    op.create_index("ix_ttc_evals_started_at", "ttc_evals", ["started_at"])
    op.create_table(
        "ttc_eval_items",
        sa.Column("eval_id", sa.String(64), sa.ForeignKey("ttc_evals.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("correct", sa.Boolean),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("wall_time", sa.Float, nullable=False),
        sa.Column("grading", sa.Text),
    )
    op.create_index("ix_ttc_eval_items_eval_item", "ttc_eval_items", ["eval_id", "item_id"],
                    unique=True)
    op.create_index("ix_ttc_eval_items_run_id", "ttc_eval_items", ["run_id"])


def downgrade() -> None:
    op.drop_table("ttc_eval_items")
    op.drop_table("ttc_evals")
    with op.batch_alter_table("ttc_candidates") as batch:
        batch.drop_column("artifacts")
