"""`python -m loket_charter`: run the charter service.

`python -m loket_charter diff MODE FROM TO [--language en]` prints, for programme managers,
what changed for an applicant between two template versions (on a two-site sample agreement).
"""

from __future__ import annotations

import argparse
import sys

from loket_contracts.topics import FACILITY_CAPACITY
from loket_messaging import ServiceRuntime, Settings
from loket_messaging.facility_keys import FacilitySignatures, master_from_env

from loket_charter.adapters import tables  # noqa: F401  (registers the tables)
from loket_charter.domain.terms import LANGUAGES, MODES, TEMPLATE_VERSIONS, template_diff
from loket_charter.entrypoints.handlers import register


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "diff":
        parser = argparse.ArgumentParser(prog="python -m loket_charter diff")
        parser.add_argument("mode", choices=MODES)
        parser.add_argument("from_version", choices=TEMPLATE_VERSIONS)
        parser.add_argument("to_version", choices=TEMPLATE_VERSIONS)
        parser.add_argument("--language", choices=LANGUAGES, default="en")
        args = parser.parse_args(sys.argv[2:])
        print(template_diff(args.mode, args.from_version, args.to_version, args.language), end="")
        return
    runtime = ServiceRuntime(Settings.from_env("charter"), migrations="loket_charter")
    register(runtime)
    # Only facility events signed with the key of the facility they name are applied.
    runtime.verify(FACILITY_CAPACITY, FacilitySignatures(master_from_env()))
    runtime.run()


if __name__ == "__main__":
    main()
