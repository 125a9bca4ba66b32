"""``python -m dataconv``: the same as the ``dataconv`` command."""
from dataconv.cli import main

main()
