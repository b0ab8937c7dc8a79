"""HTTP gateway: the single access point for applicants, facilities and programme managers."""
