"""The application's steps, one module each, in lifecycle order: eligibility, offer (hold,
screening, terms, acceptance), issuance, delivery, closing; `giving_back` undoes what is held."""
