"""`python -m nattest.cli`."""

from nattest.cli import main

main()
