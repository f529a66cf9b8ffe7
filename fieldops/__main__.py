"""`python -m fieldops --version`: which release this checkout is."""

import argparse

from fieldops import __version__


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fieldops",
        description="Fieldops. The server runs through deploy/worker, its tools through manage.py.",
    )
    parser.add_argument("--version", action="version", version=f"fieldops {__version__}")
    parser.parse_args(argv)
    parser.print_help()


if __name__ == "__main__":
    main()
