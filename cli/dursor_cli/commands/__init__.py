"""One module per group of commands; `dursor_cli.main` registers them."""
