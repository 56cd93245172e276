"""The first schema: runs, stages, candidates and model calls.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ttc_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("recipe_name", sa.String(200), nullable=False),
        sa.Column("recipe_text", sa.Text, nullable=False),
        sa.Column("recipe_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.Column("wall_time", sa.Float),
        sa.Column("answer", sa.Text),
        sa.Column("winner_id", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("failed_calls", sa.Integer, nullable=False),
        sa.Column("ledger", sa.Text),
        sa.Column("selection", sa.Text),
        sa.Column("replay_of", sa.String(64)),
        sa.Column("resumes", sa.Integer, nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
    )
    op.create_index("ix_ttc_runs_recipe_name", "ttc_runs", ["recipe_name"])
    op.create_index("ix_ttc_runs_status", "ttc_runs", ["status"])
    op.create_index("ix_ttc_runs_started_at", "ttc_runs", ["started_at"])

    op.create_table(
        "ttc_stages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64),
                  sa.ForeignKey("ttc_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("components", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("wall_time", sa.Float, nullable=False),
        sa.Column("usage", sa.Text, nullable=False),
        sa.Column("pool", sa.Text, nullable=False),
        sa.Column("selection", sa.Text),
        sa.Column("finished_at", TZ, nullable=False),
    )
    op.create_index("ix_ttc_stages_run_name_round", "ttc_stages", ["run_id", "name", "round"],
                    unique=True)

    op.create_table(
        "ttc_candidates",
        sa.Column("run_id", sa.String(64),
                  sa.ForeignKey("ttc_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(255), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("parents", sa.Text, nullable=False),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("feedback", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("tokens", sa.Text),
        sa.Column("finish_reason", sa.String(32)),
    )

    op.create_table(
        "ttc_model_calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64),
                  sa.ForeignKey("ttc_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(255), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("model_alias", sa.String(200), nullable=False),
        sa.Column("runtime", sa.String(100), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("latency", sa.Float, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("replayed", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_ttc_model_calls_fingerprint", "ttc_model_calls", ["fingerprint"])
    op.create_index("ix_ttc_model_calls_run_seq", "ttc_model_calls", ["run_id", "seq"],
                    unique=True)


def downgrade() -> None:
    op.drop_table("ttc_model_calls")
    op.drop_table("ttc_candidates")
    op.drop_table("ttc_stages")
    op.drop_table("ttc_runs")
