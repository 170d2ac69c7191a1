"""accounts

Revision ID: accounts
Revises: approval
Create Date: 2026-12-03

Issue 14 (accounts): a flag for the one-time password an admin's reset gives (it must be changed at the next
login), the browser a session or token was opened from (so a person recognises their own sessions), and no
token lives longer than 365 days: older, longer ones are cut to 365 days after their creation.
"""
from __future__ import annotations

from datetime import timedelta

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = 'accounts'
down_revision = "approval"
branch_labels = None
depends_on = None

MAX_TOKEN_DAYS = 365  # loa.accounts.auth.MAX_TOKEN_DAYS (a migration keeps its own copy: history must not move)


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch (table copy): on SQLite a batch drops and re-creates `users`, which every
    # other table references, and the foreign keys refuse that on a station with data.
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('auth_tokens', sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=200),
                                           nullable=False, server_default=''))
    # Cap the lifetime of existing tokens (up to 3,650 days were allowed). Row by row in Python: date arithmetic
    # differs between SQLite and PostgreSQL, and a station has few tokens.
    bind = op.get_bind()
    tokens = sa.table('auth_tokens', sa.column('id', sa.Integer()), sa.column('created_at', loa.db.UtcDateTime()),
                      sa.column('expires_at', loa.db.UtcDateTime()))
    for token_id, created, expires in bind.execute(sa.select(tokens.c.id, tokens.c.created_at, tokens.c.expires_at)):
        cap = created + timedelta(days=MAX_TOKEN_DAYS)
        if expires > cap:
            bind.execute(tokens.update().where(tokens.c.id == token_id).values(expires_at=cap))


def downgrade() -> None:
    op.drop_column('auth_tokens', 'user_agent')
    op.drop_column('users', 'must_change_password')
