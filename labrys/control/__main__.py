"""``python -m labrys.control``: the `labrys cluster` commands, runnable on their own."""

from labrys.control._cli import main

main()
