"""`python -m loket_eligibility`: run the eligibility service."""

from loket_messaging import ServiceRuntime, Settings

from loket_eligibility.adapters import tables  # noqa: F401  (registers the tables)
from loket_eligibility.entrypoints.handlers import register


def main() -> None:
    runtime = ServiceRuntime(Settings.from_env("eligibility"), migrations="loket_eligibility")
    register(runtime)
    runtime.run()


if __name__ == "__main__":
    main()
