"""pytest plugin (entry point `loket`): fixtures for suites that test against Loket."""
