"""index triggers by region and received_at (incremental association reads)

Revision ID: 9a7c3e5f1b20
Revises: 7d3e1f2a9b64
Create Date: 2026-12-02 12:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '9a7c3e5f1b20'
down_revision: str | None = '7d3e1f2a9b64'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.create_index(
            'ix_triggers_region_received', ['region_key', 'received_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_triggers_region_received')
