"""`python -m loket_allocation`: run the allocation service."""

from loket_contracts.topics import FACILITY_CAPACITY
from loket_messaging import ServiceRuntime, Settings
from loket_messaging.facility_keys import FacilitySignatures, master_from_env

from loket_allocation.adapters import tables  # noqa: F401  (registers the tables)
from loket_allocation.entrypoints.handlers import register


def main() -> None:
    runtime = ServiceRuntime(Settings.from_env("allocation"), migrations="loket_allocation")
    register(runtime)
    # Only facility events signed with the key of the facility they name are applied.
    runtime.verify(FACILITY_CAPACITY, FacilitySignatures(master_from_env()))
    runtime.run()


if __name__ == "__main__":
    main()
