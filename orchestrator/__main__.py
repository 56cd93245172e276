from ttc.cli.app import main

main()
