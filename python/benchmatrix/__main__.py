"""`python3 -m benchmatrix ARGS` runs the benchmatrix command line with ARGS."""

import os
import sys

from ._binary import BinaryError, find_binary


def main():
    try:
        binary = find_binary()
    except BinaryError as error:
        sys.exit(f"benchmatrix: {error}")
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
