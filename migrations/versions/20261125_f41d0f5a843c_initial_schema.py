"""initial schema

Revision ID: f41d0f5a843c
Revises:
Create Date: 2026-11-25 13:03:45.171995
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import crowdquake.storage.base

revision: str = 'f41d0f5a843c'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_target', ['target_type', 'target_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('created_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reputation', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    op.create_table('events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('detector_key', sa.String(length=64), nullable=True),
    sa.Column('preferred_revision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['events.id'], name=op.f('fk_events_merged_into_id_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('public_id', name=op.f('uq_events_public_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_region_updated', ['region_key', 'updated_at'], unique=False)

    op.create_table('operators',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators')),
    sa.UniqueConstraint('username', name=op.f('uq_operators_username'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('cells', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('issued_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_alerts_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('event_id', 'revision', 'level', name='uq_alerts_event_revision_level')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_issued_at', ['issued_at'], unique=False)

    op.create_table('device_state',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('lat_deg', sa.Float(), nullable=False),
    sa.Column('lon_deg', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=False),
    sa.Column('steady', sa.Boolean(), nullable=False),
    sa.Column('charging', sa.Boolean(), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('clock_offset_s', sa.Float(), nullable=False),
    sa.Column('last_heartbeat_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_state_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_state'))
    )
    with op.batch_alter_table('device_state', schema=None) as batch_op:
        batch_op.create_index('ix_device_state_cell_heartbeat', ['cell', 'last_heartbeat_at'], unique=False)
        batch_op.create_index('ix_device_state_region_heartbeat', ['region_key', 'last_heartbeat_at'], unique=False)

    op.create_table('event_revisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('origin_time', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lat_deg', sa.Float(), nullable=False),
    sa.Column('lon_deg', sa.Float(), nullable=False),
    sa.Column('depth_km', sa.Float(), nullable=False),
    sa.Column('magnitude', sa.Float(), nullable=True),
    sa.Column('magnitude_uncertainty', sa.Float(), nullable=True),
    sa.Column('horizontal_uncertainty_km', sa.Float(), nullable=True),
    sa.Column('depth_uncertainty_km', sa.Float(), nullable=True),
    sa.Column('origin_time_uncertainty_s', sa.Float(), nullable=True),
    sa.Column('n_triggers', sa.Integer(), nullable=False),
    sa.Column('n_active', sa.Integer(), nullable=False),
    sa.Column('detection_log10_p', sa.Float(), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('created_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_revisions_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_revisions')),
    sa.UniqueConstraint('event_id', 'version', name='uq_event_revisions_version')
    )
    op.create_table('triggers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('trigger_time', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('clock_offset_s', sa.Float(), nullable=False),
    sa.Column('lat_deg', sa.Float(), nullable=False),
    sa.Column('lon_deg', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('region_key', sa.String(length=16), nullable=False),
    sa.Column('pga_ms2', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('phase_hint', sa.String(length=1), nullable=True),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('server_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_triggers_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_triggers_event_id_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triggers'))
    )
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.create_index('ix_triggers_cell_time', ['cell', 'trigger_time'], unique=False)
        batch_op.create_index('ix_triggers_device_time', ['device_id', 'trigger_time'], unique=False)
        batch_op.create_index('ix_triggers_event', ['event_id'], unique=False)
        batch_op.create_index('ix_triggers_region_time', ['region_key', 'trigger_time'], unique=False)
        batch_op.create_index('ix_triggers_trigger_time', ['trigger_time'], unique=False)

    # events <-> event_revisions is circular: add the preferred-revision key once both exist.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f('fk_events_preferred_revision_id_event_revisions'),
            'event_revisions', ['preferred_revision_id'], ['id'], ondelete='SET NULL',
        )

    op.create_table('event_triggers',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('trigger_id', sa.Uuid(), nullable=False),
    sa.Column('phase', sa.String(length=1), nullable=False),
    sa.Column('residual_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_triggers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trigger_id'], ['triggers.id'], name=op.f('fk_event_triggers_trigger_id_triggers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'trigger_id', name=op.f('pk_event_triggers'))
    )
    with op.batch_alter_table('event_triggers', schema=None) as batch_op:
        batch_op.create_index('ix_event_triggers_trigger', ['trigger_id'], unique=False)

    op.create_table('waveforms',
    sa.Column('trigger_id', sa.Uuid(), nullable=False),
    sa.Column('sample_rate_hz', sa.Float(), nullable=False),
    sa.Column('start_time', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('n_channels', sa.Integer(), nullable=False),
    sa.Column('n_samples', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('model_score', sa.Float(), nullable=True),
    sa.Column('scored_at', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['trigger_id'], ['triggers.id'], name=op.f('fk_waveforms_trigger_id_triggers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('trigger_id', name=op.f('pk_waveforms'))
    )


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f('fk_events_preferred_revision_id_event_revisions'), type_='foreignkey'
        )
    op.drop_table('waveforms')
    with op.batch_alter_table('event_triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_event_triggers_trigger')

    op.drop_table('event_triggers')
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_triggers_trigger_time')
        batch_op.drop_index('ix_triggers_region_time')
        batch_op.drop_index('ix_triggers_event')
        batch_op.drop_index('ix_triggers_device_time')
        batch_op.drop_index('ix_triggers_cell_time')

    op.drop_table('triggers')
    op.drop_table('event_revisions')
    with op.batch_alter_table('device_state', schema=None) as batch_op:
        batch_op.drop_index('ix_device_state_region_heartbeat')
        batch_op.drop_index('ix_device_state_cell_heartbeat')

    op.drop_table('device_state')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_issued_at')

    op.drop_table('alerts')
    op.drop_table('operators')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_region_updated')

    op.drop_table('events')
    op.drop_table('devices')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target')

    op.drop_table('audit_log')
