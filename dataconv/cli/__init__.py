"""The dataconv command: click group, options and subcommands."""
