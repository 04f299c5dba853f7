"""One module per verb: `main(args: dict, g: cli.Globals) -> int`."""
