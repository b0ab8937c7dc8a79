"""`python -m loket_allocation`: run the allocation service."""

from loket_messaging import ServiceRuntime, Settings

from loket_allocation.adapters import tables  # noqa: F401  (registers the tables)
from loket_allocation.entrypoints.handlers import register


def main() -> None:
    runtime = ServiceRuntime(Settings.from_env("allocation"), migrations="loket_allocation")
    register(runtime)
    runtime.run()


if __name__ == "__main__":
    main()
