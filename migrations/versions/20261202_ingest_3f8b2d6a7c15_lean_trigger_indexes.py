"""lean trigger indexes: drop the unused ones, partial event/backlog indexes, BRIN on the times

Every index of ``triggers`` costs each ingest INSERT work and WAL. Of the eight, no query
filters by ``cell`` (ix_triggers_cell_time) and every region query bounds ``received_at``
(served by ix_triggers_region_received, so ix_triggers_region_time goes). The event index
becomes partial (ingest rows have no event), the backlog index holds only ``status = 'new'``
rows, and the plain B-tree on ``trigger_time`` becomes one BRIN index on both times.

Revision ID: 3f8b2d6a7c15
Revises: b7e2c4d91a35
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3f8b2d6a7c15'
down_revision: str | None = 'b7e2c4d91a35'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_triggers_cell_time')
        batch_op.drop_index('ix_triggers_region_time')
        batch_op.drop_index('ix_triggers_trigger_time')
        batch_op.drop_index('ix_triggers_event')
        batch_op.drop_index('ix_triggers_status_received')
        batch_op.create_index(
            'ix_triggers_event',
            ['event_id'],
            unique=False,
            postgresql_where=sa.text('event_id IS NOT NULL'),
            sqlite_where=sa.text('event_id IS NOT NULL'),
        )
        batch_op.create_index(
            'ix_triggers_new_received',
            ['received_at'],
            unique=False,
            postgresql_where=sa.text("status = 'new'"),
            sqlite_where=sa.text("status = 'new'"),
        )
        batch_op.create_index(
            'ix_triggers_times_brin',
            ['trigger_time', 'received_at'],
            unique=False,
            postgresql_using='brin',
        )


def downgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_triggers_times_brin')
        batch_op.drop_index('ix_triggers_new_received')
        batch_op.drop_index('ix_triggers_event')
        batch_op.create_index('ix_triggers_status_received', ['status', 'received_at'], unique=False)
        batch_op.create_index('ix_triggers_event', ['event_id'], unique=False)
        batch_op.create_index('ix_triggers_trigger_time', ['trigger_time'], unique=False)
        batch_op.create_index(
            'ix_triggers_region_time', ['region_key', 'trigger_time'], unique=False
        )
        batch_op.create_index('ix_triggers_cell_time', ['cell', 'trigger_time'], unique=False)
