"""pipeline state

Revision ID: 0e9bdcefe5dd
Revises: f41d0f5a843c
Create Date: 2026-11-25 13:22:02.132725
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import crowdquake.storage.base

revision: str = '0e9bdcefe5dd'
down_revision: str | None = 'f41d0f5a843c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('background_rates',
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('hour_of_day', sa.SmallInteger(), nullable=False),
    sa.Column('n_triggers', sa.Integer(), nullable=False),
    sa.Column('device_hours', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('region_key', 'hour_of_day', name=op.f('pk_background_rates'))
    )
    op.create_table('region_state',
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('queued_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_started_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_finished_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('watermark', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('alerts_enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('region_key', name=op.f('pk_region_state'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('alert_id', 'target', name='uq_alert_deliveries_alert_target')
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_alert_deliveries_status_next', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_deliveries_status_next')

    op.drop_table('alert_deliveries')
    op.drop_table('region_state')
    op.drop_table('background_rates')
