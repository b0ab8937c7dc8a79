"""The programme console: server-rendered pages for managers and auditors, behind their login
at the programme's OIDC provider (see login.py), with plots (Plotly) and CSV exports."""
