"""`python -m loket_vouchers`: run the vouchers service."""

from loket_messaging import ServiceRuntime, Settings

from loket_vouchers.adapters import tables  # noqa: F401  (registers the tables)
from loket_vouchers.entrypoints.handlers import register


def main() -> None:
    runtime = ServiceRuntime(Settings.from_env("vouchers"), migrations="loket_vouchers")
    register(runtime)
    runtime.run()


if __name__ == "__main__":
    main()
