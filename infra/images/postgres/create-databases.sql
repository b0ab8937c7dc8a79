-- One database per Loket service: no service reads another's tables.
CREATE DATABASE loket_eligibility;
CREATE DATABASE loket_allocation;
CREATE DATABASE loket_vouchers;
CREATE DATABASE loket_charter;
CREATE DATABASE loket_gateway;
CREATE DATABASE keycloak;
