"""catalog indexes: origin time of revisions, preferred revision, update and creation time of events

Revision ID: 5c1a7e9b2d40
Revises: 417fba13f94d
Create Date: 2026-12-02 11:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '5c1a7e9b2d40'
down_revision: str | None = '417fba13f94d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_event_revisions_origin_time', ['origin_time'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_preferred_revision', ['preferred_revision_id'], unique=False)
        batch_op.create_index('ix_events_updated_at', ['updated_at'], unique=False)
        batch_op.create_index('ix_events_created_at', ['created_at', 'public_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_created_at')
        batch_op.drop_index('ix_events_updated_at')
        batch_op.drop_index('ix_events_preferred_revision')
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_event_revisions_origin_time')
