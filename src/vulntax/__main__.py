from vulntax.cli import main

main()
