"""index unprocessed triggers

Revision ID: da76a125e1d2
Revises: 0e9bdcefe5dd
Create Date: 2026-11-25 13:25:58.383353
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import crowdquake.storage.base

revision: str = 'da76a125e1d2'
down_revision: str | None = '0e9bdcefe5dd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.create_index('ix_triggers_status_received', ['status', 'received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index('ix_triggers_status_received')

