"""device trust: registration network prefix, heartbeat history, agreement counts

Revision ID: 7d3e1f2a9b64
Revises: 5e7a1c2b9d40
Create Date: 2026-12-02 12:30:00

Devices that existed before this revision have no recorded heartbeat history; they are taken
as established (14 heartbeat days, the full heartbeat factor) rather than demoted at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d3e1f2a9b64"
down_revision: str | None = "5e7a1c2b9d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("network_prefix", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_days", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_heartbeat_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("n_agree", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("n_disagree", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_devices_status", ["status"], unique=False)
    op.execute("UPDATE devices SET heartbeat_days = 14")


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_status")
        batch_op.drop_column("n_disagree")
        batch_op.drop_column("n_agree")
        batch_op.drop_column("last_heartbeat_day")
        batch_op.drop_column("heartbeat_days")
        batch_op.drop_column("network_prefix")
