"""The operator console: server-rendered pages under ``/console`` for reviewing events, watching
the network and the pipeline, and acting (confirm, reject, release, merge, annotate, region alert
switches, device blocks, webhook re-sends). Session login with CSRF tokens; see docs/console.md.
"""

from crowdquake.console.views import bp

__all__ = ["bp"]
