from artannot.cli import main

main()
