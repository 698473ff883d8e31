"""catalog indexes: latitude/longitude (boxes, radius searches) and magnitude of revisions

Revision ID: b7e2c4d91a35
Revises: 9a7c3e5f1b20
Create Date: 2026-12-02 15:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'b7e2c4d91a35'
down_revision: str | None = '9a7c3e5f1b20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_event_revisions_lat_lon', ['lat_deg', 'lon_deg'], unique=False)
        batch_op.create_index('ix_event_revisions_magnitude', ['magnitude'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_event_revisions_magnitude')
        batch_op.drop_index('ix_event_revisions_lat_lon')
