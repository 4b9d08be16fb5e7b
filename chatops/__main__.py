"""python -m chatops"""

from chatops.entrypoints.cli import main

main()
