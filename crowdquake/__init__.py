"""crowdquake: backend of a crowdsourced smartphone earthquake network.

Importing the package has no side effects; see ``crowdquake.app.create_app`` and
``crowdquake.tasks.make_celery`` for the factories.
"""

__version__ = "0.1.0"
