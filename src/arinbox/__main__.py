from arinbox.cli import main

main()
