"""``python -m dataconv``: the same as the ``dataconv`` command."""
from dataconv.launch import main

main()
