"""Serve recorded calls of one run by fingerprint from an index (replay, resume).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ttc_model_calls_run_fingerprint", "ttc_model_calls",
                    ["run_id", "fingerprint"])
    op.create_index("ix_ttc_candidates_run_stage", "ttc_candidates", ["run_id", "stage"])


def downgrade() -> None:
    op.drop_index("ix_ttc_candidates_run_stage", table_name="ttc_candidates")
    op.drop_index("ix_ttc_model_calls_run_fingerprint", table_name="ttc_model_calls")
