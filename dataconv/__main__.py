"""``python -m dataconv``: the same as the ``dataconv`` command."""
from dataconv.cli.launch import main

main()
