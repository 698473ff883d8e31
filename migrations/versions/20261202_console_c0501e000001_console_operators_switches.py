"""console: operator lockout/disable columns, region alert switches (replace region_state.alerts_enabled)

Revision ID: c0501e000001
Revises: 5c1a7e9b2d40
Create Date: 2026-12-02 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import crowdquake.storage.base

revision: str = 'c0501e000001'
down_revision: str | None = '5c1a7e9b2d40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('region_alert_switches',
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('alerts_enabled', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('region_key', name=op.f('pk_region_alert_switches'))
    )
    # Carry over regions switched off in the old region_state column.
    op.execute(
        "INSERT INTO region_alert_switches (region_key, alerts_enabled, reason, updated_by, updated_at) "
        "SELECT region_key, false, 'carried over from region_state', 'migration', CURRENT_TIMESTAMP "
        "FROM region_state WHERE alerts_enabled = false"
    )
    with op.batch_alter_table('region_state', schema=None) as batch_op:
        batch_op.drop_column('alerts_enabled')
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE operators SET role = 'operator' WHERE role = 'reviewer'")


def downgrade() -> None:
    op.execute("UPDATE operators SET role = 'reviewer' WHERE role = 'operator'")
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('disabled')
    with op.batch_alter_table('region_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerts_enabled', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute(
        "UPDATE region_state SET alerts_enabled = false WHERE region_key IN "
        "(SELECT region_key FROM region_alert_switches WHERE alerts_enabled = false)"
    )
    op.drop_table('region_alert_switches')
