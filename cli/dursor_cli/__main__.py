from dursor_cli.main import main

main()
