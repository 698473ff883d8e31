"""``python -m crowdquake.cli``: same as the ``crowdquake`` command."""

from crowdquake.cli import main

main()
