"""PyInstaller entry point for the Scribe Studio app (and its training child processes)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # frozen child processes (training) start here
    from studio.app import main

    sys.exit(main())
