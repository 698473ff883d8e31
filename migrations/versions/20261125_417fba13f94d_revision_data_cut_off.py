"""revision data cut-off

Revision ID: 417fba13f94d
Revises: da76a125e1d2
Create Date: 2026-11-25 14:10:40.676818
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import crowdquake.storage.base

revision: str = '417fba13f94d'
down_revision: str | None = 'da76a125e1d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_until', crowdquake.storage.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.drop_column('data_until')

