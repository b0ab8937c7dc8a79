"""`python -m loket_charter`: run the charter service."""

from loket_messaging import ServiceRuntime, Settings

from loket_charter.adapters import tables  # noqa: F401  (registers the tables)
from loket_charter.entrypoints.handlers import register


def main() -> None:
    runtime = ServiceRuntime(Settings.from_env("charter"))
    register(runtime)
    runtime.run()


if __name__ == "__main__":
    main()
