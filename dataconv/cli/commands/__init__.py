"""Commands beyond the per-format conversions. Each module exposes ``COMMANDS``, a list of
click commands; heavy imports (torch, matplotlib) happen inside the callbacks."""
