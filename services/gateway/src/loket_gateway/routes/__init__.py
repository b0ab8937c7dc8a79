"""One router per actor: public, applicant (with managers and auditors reading), facility,
programme (managers and auditors). Each router's dependency states who may call it."""
