"""Alembic environment: runs migrations on the URL the Store was given."""

from alembic import context
from sqlalchemy import create_engine

from service.store.models import Base

url = context.config.get_main_option("sqlalchemy.url")
connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
