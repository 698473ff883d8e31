"""worker heartbeats: the pipeline proves it runs (/readyz reports a stale one)

Revision ID: 5e7a1c2b9d40
Revises: c0501e000001
Create Date: 2026-12-02 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crowdquake.storage.base

revision: str = '5e7a1c2b9d40'
down_revision: str | None = 'c0501e000001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('beat_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('worker', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )


def downgrade() -> None:
    op.drop_table('worker_heartbeats')
